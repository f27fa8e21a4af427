"""Sessions: JSONL traces that are private, redacted, written as the run goes, and resumable."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from agent_helpers import running_agent
from fakes.llm import ScriptedLLM, call, calls, say
from fastmcp import FastMCP

from agent.context import INTERRUPTED_STUB
from agent.sessions import SessionStore
from server.errors import NotFoundError, UserError
from server.settings import Settings

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]

ENV_SECRET = "sk-live-abcdef0123456789"
CONFIG_KEY = "sk-config-key-9876543210"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_session_is_private_redacted_and_complete(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_API_KEY", ENV_SECRET)
    llm.add(
        calls(call("lab__write_note", {"note": f"key is {ENV_SECRET}"})),
        say(f"I wrote the note with {ENV_SECRET}."),
    )
    async with running_agent(llm, settings, extra={"lab": lab}, config={"api_key": CONFIG_KEY}) as (
        agent,
        _,
    ):
        await agent.run("store the key")
        path = agent.session.path if agent.session else Path()
    # The key went to the model provider (that is its purpose)...
    assert llm.requests[0].headers["authorization"] == f"Bearer {CONFIG_KEY}"
    # ...the tool's echo of the environment's secret did not (the model wrote it; it gets no more).
    [echo] = [m for m in llm.requests[1].messages if m.get("role") == "tool"]
    assert echo["content"] == "wrote key is [REDACTED:LAB_API_KEY]"
    # ...and never into the trace; neither did the environment's secret, wherever it appeared.
    text = path.read_text()
    assert ENV_SECRET not in text and CONFIG_KEY not in text
    assert "[REDACTED:LAB_API_KEY]" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    kinds = [r["type"] for r in records(path)]
    assert kinds[0] == "meta" and kinds[-1] == "done"
    assert {"message", "usage", "tool_started", "iteration"} <= set(kinds)
    assert path.parent == settings.home / "sessions"


async def test_resume_continues_with_the_whole_history_and_cost(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP
) -> None:
    llm.add(calls(call("lab__submit", {"name": "r1"})), say("Submitted lab-job-1."))
    config = {"approvals": {"mode": "yolo"}}
    async with running_agent(llm, settings, extra={"lab": lab}, config=config) as (agent, _):
        first = await agent.run("submit a job")
    session_id = first.session_id
    assert session_id is not None

    def remembers(request: dict) -> bool | str:
        contents = [str(m.get("content")) for m in request["messages"]]
        wanted = [
            "submit a job",
            "submitted job_id: lab-job-1 (r1)",
            "Submitted lab-job-1.",
            "what was the id?",
        ]
        return all(any(w in c for c in contents) for w in wanted) or repr(contents)

    llm.add(say("It was lab-job-1.", expect=remembers))
    async with running_agent(
        llm, settings, extra={"lab": lab}, config=config, resume=session_id
    ) as (agent, _):
        assert agent.session_id == session_id and agent.iterations == 2
        second = await agent.run("what was the id?")
    assert second.reason == "completed" and second.iterations == 3
    saved = SessionStore(settings.home).load(session_id)
    assert [m["role"] for m in saved.messages][-2:] == ["user", "assistant"]


def test_loading_survives_a_torn_last_line_and_answers_interrupted_calls(
    settings: Settings,
) -> None:
    store = SessionStore(settings.home)
    writer = store.create({"model": "m"})
    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "ran",
                "type": "function",
                "function": {"name": "lab__block", "arguments": "{}"},
            },
            {
                "id": "waiting",
                "type": "function",
                "function": {"name": "lab__submit", "arguments": "{}"},
            },
        ],
    }
    for message in (
        {"role": "system", "content": "s"},
        {"role": "user", "content": "go"},
        assistant,
    ):
        writer.write({"type": "message", "message": message})
    writer.write({"type": "tool_started", "call_id": "ran", "tool": "lab__block"})
    writer.close()
    with writer.path.open("a") as handle:
        handle.write('{"type": "message", "message": {"role": "tool", "tool_')  # killed mid-write
    saved = store.load(writer.session_id)
    assert saved.torn_line and len(saved.messages) == 3
    assert saved.started_calls == {"ran"}  # "waiting" never started: resuming runs it again


async def test_a_call_cut_off_mid_flight_is_answered_as_interrupted_on_resume(
    llm: ScriptedLLM, settings: Settings
) -> None:
    store = SessionStore(settings.home)
    writer = store.create({"model": "openai/scripted"})
    call_message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "plan_get", "arguments": "{}"}}
        ],
    }
    for message in (
        {"role": "system", "content": "s"},
        {"role": "user", "content": "go"},
        call_message,
    ):
        writer.write({"type": "message", "message": message})
    writer.write({"type": "tool_started", "call_id": "c1", "tool": "plan_get"})
    writer.close()

    def stubbed(request: dict) -> bool | str:
        tools = [m for m in request["messages"] if m.get("role") == "tool"]
        return (len(tools) == 1 and tools[0]["content"] == INTERRUPTED_STUB) or repr(tools)

    llm.add(say("I will check the state first.", expect=stubbed))
    async with running_agent(llm, settings, resume=writer.session_id) as (agent, events):
        result = await agent.run(None)
    assert result.reason == "completed"
    assert not events.of("tool_call")  # it was not run a second time


def test_unknown_session_names_the_recent_ones(settings: Settings) -> None:
    store = SessionStore(settings.home)
    known = store.create({"model": "m"})
    known.close()
    with pytest.raises(NotFoundError, match=f"Recent sessions: {known.session_id}"):
        store.load("20000101-000000-000000")
    with pytest.raises(UserError) as caught:
        store.load("../../etc/passwd")
    assert str(caught.value) == (
        "'../../etc/passwd' is not a session id (they look like 20250101-120000-a1b2c3)."
    )
