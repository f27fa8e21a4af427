"""mlintern-server as a real subprocess over stdio, driven by the MCP Python SDK's own client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ERAS, readline_within, server_cmd, test_env
from mcp import Client
from mcp.client.stdio import StdioServerParameters


@pytest.mark.parametrize("era", ERAS)
async def test_sdk_client_lists_and_calls_plan_tools(tmp_path: Path, era: str) -> None:
    cmd = server_cmd()
    params = StdioServerParameters(
        command=cmd[0], args=cmd[1:], env=test_env(tmp_path / "home", MLINTERN_LOG_LEVEL="INFO")
    )
    errlog = (tmp_path / "stderr.log").open("w")
    async with Client(params, mode=era) as client:
        assert client.protocol_version == ("2025-11-25" if era == "legacy" else era)
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"plan_update", "plan_get"} <= tools
        result = await client.call_tool(
            "plan_update", {"todos": [{"id": "1", "content": "read the paper"}]}
        )
        assert not result.is_error
        assert result.structured_content is not None
        assert result.structured_content["todos"][0]["content"] == "read the paper"
    errlog.close()
    # State went to the home we gave it, not to the user's data dir.
    assert (tmp_path / "home" / "state.sqlite3").exists()


def test_stdout_carries_only_protocol(tmp_path: Path) -> None:
    """Every line the server writes to stdout is JSON-RPC; logs go to stderr."""
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    proc = subprocess.Popen(
        server_cmd("--log-level", "DEBUG"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=test_env(tmp_path / "home"),
    )
    assert proc.stdin and proc.stdout
    out_lines = []
    try:
        for request in requests:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            if "id" in request:  # wait for its answer before sending more
                out_lines.append(readline_within(proc.stdout))
    finally:
        # Closes stdin (the server's cue to exit), then reads the rest with a deadline.
        rest, stderr = proc.communicate(timeout=30)
    stdout = "".join(out_lines) + rest
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, stderr
    messages = [json.loads(line) for line in lines]  # any banner or log line would fail here
    assert all(m.get("jsonrpc") == "2.0" for m in messages)
    listed = next(m for m in messages if m.get("id") == 2)
    assert any(t["name"] == "plan_get" for t in listed["result"]["tools"])
    assert stderr  # DEBUG logging happened, on stderr


def test_unknown_toolset_fails_fast_with_the_choices(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*server_cmd("--toolsets", "plan,nonsense")],
        capture_output=True,
        text=True,
        timeout=60,
        env=test_env(tmp_path / "home"),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "Unknown toolset(s): nonsense" in proc.stderr and "plan" in proc.stderr
    assert proc.stdout == ""
    assert sys.executable  # the interpreter that ran the suite also ran the server
