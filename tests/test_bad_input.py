"""Bad input gets a proper error and the server keeps serving the next request."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import client, readline_within, server_cmd, test_env

from server.app import build_server
from server.settings import Settings

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


class StdioPeer:
    """A line-level JSON-RPC peer for feeding the server bytes no SDK would send."""

    def __init__(self, home: Path):
        self.proc = subprocess.Popen(
            server_cmd(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=test_env(home),
        )

    def send(self, line: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def answer(self) -> dict:
        assert self.proc.stdout
        return json.loads(readline_within(self.proc.stdout))

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def test_malformed_json_rpc_then_normal_request(tmp_path: Path) -> None:
    peer = StdioPeer(tmp_path / "home")
    try:
        peer.send(json.dumps(INIT))
        assert peer.answer()["result"]["serverInfo"]["name"] == "mlintern"
        peer.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))

        peer.send("{this is not json")
        parse_error = peer.answer()
        assert parse_error["error"]["code"] == -32700 and parse_error["id"] is None

        peer.send(json.dumps({"no": "jsonrpc here"}))
        assert peer.answer()["error"]["code"] == -32600

        peer.send(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}))
        unknown_method = peer.answer()
        assert unknown_method["id"] == 7 and unknown_method["error"]["code"] == -32601

        peer.send(json.dumps({"jsonrpc": "2.0", "id": 8, "method": "tools/list"}))
        listed = peer.answer()
        assert listed["id"] == 8
        assert any(tool["name"] == "plan_get" for tool in listed["result"]["tools"])
    finally:
        peer.close()
    assert peer.proc.returncode == 0


async def test_unknown_tool_and_schema_violations_then_normal_call(
    settings: Settings, era: str
) -> None:
    async with client(build_server(settings), era) as c:
        unknown = await c.call_tool("plan_explode", {}, raise_on_error=False)
        assert unknown.is_error and "plan_explode" in unknown.content[0].text

        wrong_type = await c.call_tool("plan_update", {"todos": "not a list"}, raise_on_error=False)
        assert wrong_type.is_error and "todos" in wrong_type.content[0].text

        too_long = await c.call_tool("plan_get", {"plan_id": "x" * 500}, raise_on_error=False)
        assert too_long.is_error and "plan_id" in too_long.content[0].text

        missing = await c.call_tool("plan_update", {}, raise_on_error=False)
        assert missing.is_error and "todos" in missing.content[0].text

        ok = await c.call_tool("plan_update", {"todos": [{"id": "1", "content": "still here"}]})
        assert not ok.is_error and ok.structured_content["version"] == 1
