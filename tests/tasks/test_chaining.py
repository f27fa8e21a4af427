"""Chaining: the agent config's mcpServers lists other MCP servers, and a delegated run uses
their tools in the same task as mlintern's. Credentials for one server never reach another."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes.llm import ScriptedLLM, call, calls, say
from fastmcp import Client
from helpers import REPO, free_port, running, test_env, wait_for_http

from server.app import build_server
from server.settings import Settings
from tasks.taskkit import tool_results, use, write_agent_config

ECHO = REPO / "tests" / "fakes" / "echo_mcp.py"
ECHO_TOKEN = "echo-secret-4b1d9e0c7a"  # belongs to the echo server only
HF_TOKEN = "hf_mlinternsecret0123456789"  # belongs to the Hub only


def heard_every_server(body: dict[str, Any]) -> bool | str:
    shouted, plan, names = tool_results(body)
    if shouted != "HELLO FROM MLINTERN!" or "Plan 'default'" not in plan:
        return f"unexpected results: {shouted!r}, {plan[:80]!r}"
    leaked = [name for name in ("HF_TOKEN", "ECHO_TOKEN") if name in names]
    return not leaked or f"the stdio server was started with {leaked}"


async def test_a_run_uses_another_servers_tools_and_keeps_credentials_apart(
    tmp_path: Path, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both secrets live in the environment of the process running the agent (this one).
    monkeypatch.setenv("ECHO_TOKEN", ECHO_TOKEN)
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    record = tmp_path / "echo-requests.jsonl"
    port = free_port()
    echo_cmd = [sys.executable, str(ECHO), "--http", str(port), "--record", str(record)]
    echo_env = test_env(tmp_path / "echo-home", ECHO_EXPECTED_TOKEN=ECHO_TOKEN)
    config = write_agent_config(
        tmp_path / "agent.json",
        llm,
        mcpServers={
            "echo": {
                "url": f"http://127.0.0.1:{port}/mcp",
                "headers": {"Authorization": "Bearer ${ECHO_TOKEN}"},
            },
            "local": {"command": sys.executable, "args": [str(ECHO), "--stdio"]},
        },
    )
    monkeypatch.setenv("MLINTERN_AGENT_CONFIG", str(config))
    llm.add(
        calls(
            call("echo__shout", {"text": "hello from mlintern"}),
            call(
                "plan_update", {"todos": [{"id": "1", "content": "shout", "status": "completed"}]}
            ),
            call("local__credential_names", {}),
        ),
        say(
            "Shouted, planned, and checked the other server's environment.",
            expect=heard_every_server,
        ),
    )
    settings = Settings(home=tmp_path / "home", toolsets=["plan", "tasks"], _env_file=None)  # type: ignore[call-arg]
    with running(echo_cmd, echo_env, stderr=sys.stderr) as proc:
        wait_for_http(f"http://127.0.0.1:{port}/up", timeout=60, proc=proc)
        async with Client(build_server(settings)) as c:
            result = await use(c, "run_ml_task", task="Shout hello, plan it, check the env.")
            status = await use(c, "ml_task", run_id=result.data["run_id"])
    assert result.data["status"] == "completed"

    # The echo server got its own token on every request, and nothing else of ours.
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    seen = [line["authorization"] for line in lines if line["path"] == "/mcp"]
    assert seen and set(seen) == {f"Bearer {ECHO_TOKEN}"}
    # Neither secret reached the model, the run's event log, or the saved session.
    sessions = list((tmp_path / "home" / "sessions").glob("*.jsonl"))
    places = [json.dumps(r.body) for r in llm.requests] + [status.text, json.dumps(status.data)]
    places += [path.read_text() for path in sessions]
    assert sessions and all(HF_TOKEN not in p and ECHO_TOKEN not in p for p in places)
