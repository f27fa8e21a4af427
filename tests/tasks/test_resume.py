"""Runs outlive the call and the process: a server killed mid-run leaves the run 'interrupted'
and resume=run_id continues it from its saved session; a cancelled run can be resumed too."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.llm import Reply, ScriptedLLM, call, calls, say
from fastmcp import Client
from fastmcp.exceptions import ToolError

from server.app import build_server
from server.settings import Settings
from tasks.taskkit import http_server, tool_results, use

TODOS = [{"id": "1", "content": "look around", "status": "completed"}]
TASK = "Record a one-item plan, then report."


async def wait_for(condition: Any, what: str, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def continues_the_saved_conversation(body: dict[str, Any]) -> bool | str:
    users = [m["content"] for m in body["messages"] if m.get("role") == "user"]
    results = tool_results(body)
    if users != [TASK] or len(results) != 1 or "look around" not in results[0]:
        return f"history not resumed: users={users}, results={results}"
    return True


@pytest.mark.slow
async def test_a_killed_server_leaves_the_run_interrupted_and_resume_continues_it(
    tmp_path: Path, llm: ScriptedLLM, agent_config: Path
) -> None:
    llm.add(
        calls(call("plan_update", {"todos": TODOS})),
        # The server dies while the model "thinks" about this one: it is never delivered.
        Reply(text="never delivered", delay_s=30, label="held until the server is killed"),
        say("Plan recorded; finished after the restart.", expect=continues_the_saved_conversation),
    )
    home, env = tmp_path / "home", {"MLINTERN_AGENT_CONFIG": str(agent_config)}
    with http_server(home, "plan,tasks", **env) as (url, proc):
        async with Client(url, mode="2026-07-28") as c:
            started = await use(c, "run_ml_task", task=TASK, detach=True)
            run_id = started.data["run_id"]
            await wait_for(lambda: len(llm.requests) == 2, "the second model call")
            before = (await use(c, "ml_task", run_id=run_id)).data
            assert before["status"] == "running" and before["session_id"]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    with http_server(home, "plan,tasks", **env) as (url, _):
        async with Client(url, mode="legacy") as c:
            status = await use(c, "ml_task", run_id=run_id)
            assert status.data["status"] == "interrupted"
            assert f"run_ml_task(resume='{run_id}')" in status.text
            resumed = await use(c, "run_ml_task", resume=run_id)
    report = resumed.data
    assert report["status"] == "completed" and report["run_id"] == run_id
    assert report["summary"] == "Plan recorded; finished after the restart."
    assert report["iterations"] == 3  # two before the kill, one after: it did not start over
    assert report["session_id"] == before["session_id"]  # the same saved conversation


async def test_a_cancelled_run_stops_at_once_and_can_take_a_follow_up(
    tmp_path: Path, llm: ScriptedLLM, agent_config: Path
) -> None:
    settings = Settings(home=tmp_path / "home", toolsets=["plan", "tasks"], _env_file=None)  # type: ignore[call-arg]
    llm.add(
        Reply(text="too slow", delay_s=20, label="cancelled while waiting"),
        say(
            "Here is the follow-up.", expect=lambda body: body["messages"][-1]["content"] == "go on"
        ),
    )
    async with Client(build_server(settings)) as c:
        run_id = (await use(c, "run_ml_task", task=TASK, detach=True)).data["run_id"]
        await wait_for(lambda: len(llm.requests) == 1, "the first model call")
        began = time.monotonic()
        cancelled = await use(c, "ml_task", run_id=run_id, action="cancel")
        assert time.monotonic() - began < 10  # not held until the model answers
        assert cancelled.data["status"] == "cancelled"
        again = await use(c, "ml_task", run_id=run_id, action="cancel")  # idempotent
        assert again.data["status"] == "cancelled"
        with pytest.raises(ToolError, match="not working right now"):
            await c.call_tool(
                "ml_task",
                {
                    "run_id": run_id,
                    "action": "approve",
                    "decisions": [{"call_id": "x", "action": "approve"}],
                },
            )
        followed = await use(c, "run_ml_task", resume=run_id, task="go on")
    assert followed.data["status"] == "completed"
    assert followed.data["summary"] == "Here is the follow-up."
