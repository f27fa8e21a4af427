"""Approvals of a delegated run reach the person at the host, or are refused when nobody can be
asked: through the real server (build_server, in-memory MCP client) in both protocol eras."""

from __future__ import annotations

import asyncio
import time

import pytest
from fakes.llm import ScriptedLLM, call, calls, say
from fastmcp import Client
from fastmcp.exceptions import ToolError

from server.app import build_server
from server.settings import Settings
from server.state import StateStore
from tasks.taskkit import ApprovalDesk, ProgressLog, expect_in_last_result, tool_results, use

SUBMIT = call("jobs_submit", {"command": "echo should-never-run", "name": "forbidden"})
NOTE = call(
    "plan_update", {"todos": [{"id": "1", "content": "submit (declined)", "status": "completed"}]}
)


async def jobs_listed(c: Client) -> list[dict]:
    return (await use(c, "jobs_list")).data["jobs"]


async def test_a_denied_approval_lets_the_run_go_on_without_the_action(
    task_settings: Settings, llm: ScriptedLLM, era: str
) -> None:
    desk = ApprovalDesk({"approve": False, "feedback": "not on my machine today"})
    llm.add(
        calls(SUBMIT),
        calls(NOTE, expect=expect_in_last_result("declined", "not on my machine today")),
        say("I could not submit the job: the user declined. The plan records it."),
    )
    progress = ProgressLog()
    server = build_server(task_settings)
    async with Client(server, mode=era, elicitation_handler=desk, progress_handler=progress) as c:
        result = await use(c, "run_ml_task", task="Run `echo hi` as a job.")
        assert await jobs_listed(c) == []  # the refused submission never happened
    report = result.data
    assert report["status"] == "completed"
    assert report["declined"] == [
        {"tool": "jobs_submit", "by": "user", "feedback": "not on my machine today"}
    ]
    assert report["artifacts"]["job_ids"] == []
    assert "Declined (user): jobs_submit: not on my machine today" in result.text
    [asked] = desk.messages
    assert "jobs_submit" in asked and "should-never-run" in asked
    # Every step reached the host as a progress notification, the plan update included.
    assert any("calling jobs_submit" in m for m in progress.messages)
    assert any("calling plan_update" in m for m in progress.messages)
    assert sum(m.startswith("step ") and "/50" in m for m in progress.messages) == 3


async def test_a_host_without_elicitation_gets_refusals_the_model_is_told_about(
    task_settings: Settings, llm: ScriptedLLM, era: str
) -> None:
    llm.add(
        calls(SUBMIT),
        say(
            "Nobody could approve the submission.",
            expect=expect_in_last_result("cannot ask its user", "ml_task(action='approve')"),
        ),
    )
    async with Client(build_server(task_settings), mode=era) as c:
        result = await use(c, "run_ml_task", task="Run `echo hi` as a job.")
        assert await jobs_listed(c) == []
    [refusal] = result.data["declined"]
    assert refusal["tool"] == "jobs_submit" and "elicitation" in refusal["feedback"]


async def test_an_approval_nobody_answers_is_refused_when_its_sealed_state_expires(
    task_settings: Settings, llm: ScriptedLLM
) -> None:
    # A 2026-07-28 host gets the input-required result, then vanishes without calling back.
    llm.add(
        calls(SUBMIT),
        say(
            "Nobody answered, so nothing was submitted.",
            expect=expect_in_last_result("Nobody answered the approval request within 1 s"),
        ),
    )
    asked, never = asyncio.Event(), asyncio.Event()

    async def vanishing_host(*_: object) -> dict:
        asked.set()
        await never.wait()
        raise AssertionError("unreachable")

    settings = task_settings.model_copy(update={"approval_ttl_s": 1.0})
    async with Client(
        build_server(settings), mode="2026-07-28", elicitation_handler=vanishing_host
    ) as c:
        call = asyncio.create_task(c.call_tool("run_ml_task", {"task": "Run `echo hi`."}))
        await asyncio.wait_for(asked.wait(), 60)
        call.cancel()
        with StateStore(settings.state_path).reading() as db:
            [(run_id,)] = db.execute("SELECT run_id FROM agent_runs").fetchall()
        deadline = time.monotonic() + 30
        while (status := await use(c, "ml_task", run_id=run_id)).data["status"] != "completed":
            assert time.monotonic() < deadline, status.text
            await asyncio.sleep(0.2)
        assert await jobs_listed(c) == []
    [refusal] = status.data["declined"]
    assert refusal["tool"] == "jobs_submit" and "within 1 s" in refusal["feedback"]


async def test_yolo_is_the_operators_choice_not_the_callers(
    task_settings: Settings, llm: ScriptedLLM
) -> None:
    async with Client(build_server(task_settings)) as c:
        with pytest.raises(ToolError, match="MLINTERN_TASKS_ALLOW_YOLO"):
            await c.call_tool("run_ml_task", {"task": "anything", "approval": "yolo"})

    # Allowed by the operator: a host that cannot ask gets the mutating call made.
    llm.add(
        calls(call("jobs_cancel", {"job_id": "j-0123456789"})),
        say("done", expect=lambda body: "No job" in tool_results(body)[-1] or tool_results(body)),
    )
    allowed = task_settings.model_copy(update={"tasks_allow_yolo": True})
    async with Client(build_server(allowed)) as c:
        result = await use(c, "run_ml_task", task="cancel j-0123456789")
    assert result.data["declined"] == []


async def test_approval_deny_refuses_even_with_a_person_at_the_host(
    task_settings: Settings, llm: ScriptedLLM
) -> None:
    desk = ApprovalDesk({"approve": True})
    llm.add(calls(SUBMIT), say("refused", expect=expect_in_last_result("approval='deny'")))
    async with Client(build_server(task_settings), elicitation_handler=desk) as c:
        result = await use(c, "run_ml_task", task="job", approval="deny")
        assert await jobs_listed(c) == []
    assert desk.messages == [] and result.data["declined"][0]["tool"] == "jobs_submit"


async def test_bad_requests_say_what_to_do(task_settings: Settings) -> None:
    async with Client(build_server(task_settings)) as c:
        with pytest.raises(ToolError, match="Give the task"):
            await c.call_tool("run_ml_task", {})
        with pytest.raises(ToolError, match="Choose from: plan, jobs, experiments"):
            await c.call_tool("run_ml_task", {"task": "x", "toolsets": ["tasks"]})
        with pytest.raises(ToolError, match="No run 'run-nope'"):
            await c.call_tool("ml_task", {"run_id": "run-nope"})
        tools = {tool.name for tool in await c.list_tools()}
    assert {"run_ml_task", "ml_task"} <= tools
    assert "research" in tools and not any(name.startswith("agent_") for name in tools)


def offered(body: dict) -> set[str]:
    return {tool["function"]["name"] for tool in body.get("tools") or []}


async def test_the_agent_gets_this_servers_tools_but_never_the_delegation_ones(
    task_settings: Settings, llm: ScriptedLLM
) -> None:
    delegation = {"run_ml_task", "ml_task", "research"}

    def all_but_delegation(body: dict) -> bool | str:
        tools = offered(body)
        has_all = {"plan_update", "jobs_submit", "experiments_check"} <= tools
        return (has_all and not tools & delegation) or f"offered {sorted(tools)}"

    def only_plan(body: dict) -> bool | str:
        return offered(body) == {"plan_update", "plan_get"} or f"offered {sorted(offered(body))}"

    llm.add(say("ok", expect=all_but_delegation), say("ok", expect=only_plan))
    async with Client(build_server(task_settings)) as c:
        await c.call_tool("run_ml_task", {"task": "what can you do?"})
        await c.call_tool("run_ml_task", {"task": "plan only", "toolsets": ["plan"]})
