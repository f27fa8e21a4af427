"""The sandbox tools in a real mlintern-server process, reached over streamable HTTP.

What only a separate server process can show: its own environment holds credentials that the
sandbox never sees, its resident memory stays flat through a 100 MB output flood, and it keeps
answering after a fork bomb.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from helpers import free_port, running, server_cmd, test_env, wait_for_http
from sandbox_kit import data

SERVER_SECRETS = {
    "HF_TOKEN": "hf_heldByTheServer0001",
    "GITHUB_TOKEN": "ghp_heldByTheServer0002",
    "ANTHROPIC_API_KEY": "sk-ant-heldByTheServer0003",
}


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
@pytest.mark.usefixtures("isolated")
async def test_real_server_keeps_secrets_memory_and_composure(tmp_path: Path) -> None:
    port = free_port()
    cmd = server_cmd("--transport", "http", "--port", str(port), "--toolsets", "sandbox")
    env = test_env(tmp_path / "home", **SERVER_SECRETS)
    with running(cmd, env, stderr=subprocess.DEVNULL) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/healthz", proc=proc)
        async with Client(StreamableHttpTransport(base + "/mcp")) as mcp:
            sandbox_id = data(await mcp.call_tool("sandbox_create", {}))["sandbox_id"]

            shown = data(
                await mcp.call_tool("sandbox_exec", {"sandbox_id": sandbox_id, "command": "env"})
            )
            for name, value in SERVER_SECRETS.items():
                assert name not in shown["stdout"]["text"] and value not in shown["stdout"]["text"]

            before = peak_rss_mib(proc.pid)
            flood = data(
                await mcp.call_tool(
                    "sandbox_exec",
                    {
                        "sandbox_id": sandbox_id,
                        "command": "head -c 100000000 /dev/zero | tr '\\0' 'y'",
                        "timeout_s": 120,
                    },
                )
            )
            grown = peak_rss_mib(proc.pid) - before
            assert flood["stdout"]["total_bytes"] == 100_000_000 and flood["stdout"]["truncated"]
            assert grown < 40, f"server peak memory grew {grown:.0f} MiB during a 100 MB flood"

            bomb = data(
                await mcp.call_tool(
                    "sandbox_exec",
                    {
                        "sandbox_id": sandbox_id,
                        "command": "bomb() { while :; do bomb & done; }; bomb",
                        "timeout_s": 3,
                    },
                )
            )
            assert bomb["killed_reason"] == "timeout"
            after = data(
                await mcp.call_tool(
                    "sandbox_exec", {"sandbox_id": sandbox_id, "command": "echo ok"}
                )
            )
            assert after["stdout"]["text"] == "ok\n"
        assert proc.poll() is None  # still serving
