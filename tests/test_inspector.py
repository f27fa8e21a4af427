"""Conformance with a client no one here wrote: the MCP Inspector CLI (pinned, from npm)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, free_port, running, server_cmd, test_env, wait_for_http

INSPECTOR = REPO / "tests" / "inspector" / "node_modules" / ".bin" / "mcp-inspector"
CATALOG = Path(os.environ.get("TMPDIR", "/tmp")) / f"mlintern-inspector-{os.getpid()}.json"
TOKEN = "inspector-token-0123456789"
TODOS = json.dumps([{"id": "1", "content": "from the inspector", "status": "in_progress"}])


@pytest.fixture(scope="module", autouse=True)
def _inspector_installed() -> None:
    if not INSPECTOR.exists():
        pytest.fail(
            f"{INSPECTOR} is missing: run `bash scripts/test.sh` (or `npm install` in "
            "tests/inspector) to install the pinned MCP Inspector."
        )


def inspect(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INSPECTOR), "--cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MCP_CATALOG_PATH": str(CATALOG), **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def stdio_target(home: Path) -> list[str]:
    # The inspector gives its stdio child a minimal environment: pass what it needs explicitly.
    env = test_env(home)
    pairs = [
        f"{key}={env[key]}"
        for key in ("MLINTERN_HOME", "FASTMCP_SHOW_SERVER_BANNER", "FASTMCP_CHECK_FOR_UPDATES")
    ]
    flags = [arg for pair in pairs for arg in ("-e", pair)]
    return [*flags, *server_cmd()]


def test_stdio_tools_list_is_strictly_portable(tmp_path: Path) -> None:
    proc = inspect(*stdio_target(tmp_path / "home"), "--method", "tools/list", "--strict")
    assert proc.returncode == 0, proc.stderr
    names = {tool["name"] for tool in json.loads(proc.stdout)["tools"]}
    assert {"plan_update", "plan_get"} <= names


def test_stdio_plan_update_call(tmp_path: Path) -> None:
    proc = inspect(
        *stdio_target(tmp_path / "home"),
        "--method",
        "tools/call",
        "--tool-name",
        "plan_update",
        "--tool-arg",
        f"todos={TODOS}",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["isError"] is False
    assert result["structuredContent"]["todos"][0]["content"] == "from the inspector"
    assert "[~] 1. from the inspector" in result["content"][0]["text"]


@pytest.fixture(scope="module")
def http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    cmd = server_cmd("--transport", "http", "--port", str(port), "--auth-token", TOKEN)
    env = test_env(tmp_path_factory.mktemp("inspector-http"))
    with running(cmd, env, stderr=subprocess.DEVNULL) as proc:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        yield f"http://127.0.0.1:{port}/mcp"


def test_http_tools_list_and_call(http_url: str) -> None:
    auth = ["--transport", "http", "--header", f"Authorization: Bearer {TOKEN}"]
    listed = inspect(http_url, *auth, "--method", "tools/list")
    assert listed.returncode == 0, listed.stderr
    assert "plan_get" in {tool["name"] for tool in json.loads(listed.stdout)["tools"]}

    called = inspect(
        http_url,
        *auth,
        "--method",
        "tools/call",
        "--tool-name",
        "plan_update",
        "--tool-arg",
        f"todos={TODOS}",
    )
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["structuredContent"]["counts"]["in_progress"] == 1


def test_http_without_token_is_refused(http_url: str) -> None:
    proc = inspect(http_url, "--transport", "http", "--method", "tools/list")
    assert proc.returncode != 0
    # The inspector meets the 401 and would start an OAuth flow; headless, it reports that.
    assert "auth_required" in proc.stdout + proc.stderr
