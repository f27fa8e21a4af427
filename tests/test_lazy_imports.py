"""Start-up stays light: building the server imports no heavy library and no toolkit, and a
warm tools/list is answered from the cached catalog without importing any toolkit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import test_env

HEAVY = (
    "litellm",
    "torch",
    "duckdb",
    "tensorboard",
    "github",
    "e2b",
    "e2b_code_interpreter",
    "ray",
    "matplotlib",
    "trackio",
    "agent.loop",
    "huggingface_hub",
    "pyarrow",
    "numpy",
)

PROBE = """
import asyncio, json, sys
from fastmcp import Client
from server.app import build_server
from server.settings import Settings

server = build_server(Settings())
after_build = sorted(sys.modules)

async def list_tools():
    async with Client(server) as client:
        return [tool.model_dump(mode="json") for tool in await client.list_tools()]

tools = asyncio.run(list_tools())
print(json.dumps({"after_build": after_build, "after_list": sorted(sys.modules), "tools": tools}))
"""


def probe(home: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=180,
        env=test_env(home),
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def toolkit_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith("toolkits.")]


def test_start_up_imports_nothing_heavy_and_no_toolkit_once_warm(tmp_path: Path) -> None:
    cold = probe(tmp_path / "home")
    assert not heavy(cold["after_build"]), "imported while building the server"
    assert not toolkit_modules(cold["after_build"]), "toolkits must be built on demand"
    assert not heavy(cold["after_list"]), "imported while listing tools"
    assert toolkit_modules(cold["after_list"]), "a cold list builds the toolkits"
    assert len(cold["tools"]) > 20

    warm = probe(tmp_path / "home")  # same home: the catalog written by the cold run is used
    assert not toolkit_modules(warm["after_list"]), "a warm list must not import toolkits"
    assert warm["tools"] == cold["tools"], "the cached catalog must list exactly the real tools"
