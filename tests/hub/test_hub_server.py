"""The hub and datasets toolkits as the real server composes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fakes.hub import FakeHub
from fastmcp import Client
from helpers import test_env
from hub_world import out

from server.app import build_server
from server.settings import Settings

PROBE = """
import json, sys
from server.app import build_server
from server.settings import Settings
build_server(Settings(toolsets=["hub", "datasets"]))
print(json.dumps(sorted(sys.modules)))
"""


async def test_build_server_mounts_hub_and_datasets(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    anon_settings.toolsets = ["hub", "datasets"]
    server = build_server(anon_settings)
    async with Client(server) as c:
        names = {tool.name for tool in await c.list_tools()}
        found = await c.call_tool("hub_search", {"query": "gpt2"})
    assert {"hub_search", "hub_write", "datasets_inspect"} <= names
    assert [r["id"] for r in out(found)["results"]] == ["openai-community/gpt2"]
    assert "- hub: search the Hugging Face Hub" in (server.instructions or "")


def test_building_the_server_imports_no_hub_or_data_library(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        env=test_env(tmp_path / "home"),
        check=True,
    )
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    heavy = [m for m in loaded if m.split(".")[0] in ("huggingface_hub", "duckdb", "pyarrow")]
    assert heavy == []
