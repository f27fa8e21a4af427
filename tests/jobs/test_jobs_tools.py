"""The jobs tools as a host sees them: names, annotations, schemas, read-only mode, imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import test_env
from jobs_support import mcp_client

from server.app import build_server
from server.settings import Settings

TOOLS = {
    # name: (read_only, destructive, idempotent, open_world)
    "jobs_submit": (False, True, False, True),
    "jobs_status": (True, False, True, True),
    "jobs_logs": (True, False, True, True),
    "jobs_list": (True, False, True, True),
    "jobs_cancel": (False, True, True, True),
    "jobs_hardware": (True, False, True, True),
    "jobs_preflight": (False, False, True, False),
}


async def test_tools_carry_the_annotations_the_contract_names(settings: Settings) -> None:
    settings.toolsets = ["jobs"]
    async with mcp_client(build_server(settings)) as c:
        listed = await c.list_tools()
    # The app-only views_job view tool comes with the jobs toolset; this test is about jobs_*.
    tools = {tool.name: tool for tool in listed if tool.name.startswith("jobs_")}
    assert set(tools) == set(TOOLS)
    for name, (read_only, destructive, idempotent, open_world) in TOOLS.items():
        hints = tools[name].annotations
        assert hints is not None
        got = (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        )
        assert got == (read_only, destructive, idempotent, open_world), name
        assert tools[name].title and tools[name].output_schema
    submit = tools["jobs_submit"].input_schema["properties"]
    assert submit["backend"]["enum"] == ["local", "hf", "ray"]
    assert submit["timeout"]["minimum"] == 1 and submit["timeout"]["type"] == "integer"
    assert tools["jobs_status"].input_schema["properties"]["wait_s"]["maximum"] == 55
    assert "paid" in (tools["jobs_submit"].description or "")


async def test_read_only_server_offers_no_submit_or_cancel(settings: Settings) -> None:
    settings.toolsets, settings.read_only = ["jobs"], True
    async with mcp_client(build_server(settings)) as c:
        names = {tool.name for tool in await c.list_tools() if tool.name.startswith("jobs_")}
    assert names == {name for name, hints in TOOLS.items() if hints[0]}


PROBE = """
import asyncio, json, sys
from fastmcp import Client
from server.app import build_server
from server.settings import Settings

async def main():
    server = build_server(Settings(toolsets=["jobs"]))
    built = set(sys.modules)
    async with Client(server) as c:
        job = (await c.call_tool("jobs_submit", {"command": "echo hi"})).structured_content
        await c.call_tool("jobs_status", {"job_id": job["job_id"], "wait_s": 20})
        await c.call_tool("jobs_hardware", {})
    print(json.dumps({"built": sorted(built), "used": sorted(sys.modules)}))

asyncio.run(main())
"""
HEAVY = ("huggingface_hub", "ray", "torch", "tensorboard", "trackio")


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_heavy_clients_load_only_for_the_backend_that_needs_them(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        env=test_env(tmp_path / "home"),
        check=True,
    )
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "toolkits.jobs.core" in loaded["used"]  # the probe really ran the toolkit
    assert heavy(loaded["built"]) == []
    # Running a local job end to end still needs neither the hf nor the ray client.
    assert heavy(loaded["used"]) == []
