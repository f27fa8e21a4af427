"""The loop's own rules: iteration cap, concurrency, cancellation, nudges, result caps."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent_helpers import LabState, running_agent
from fakes.llm import ScriptedLLM, call, calls, say
from fastmcp import FastMCP

from agent.events import EventLog
from server.settings import Settings

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]


def tool_results(request: dict) -> list[dict]:
    return [m for m in request["messages"] if m.get("role") == "tool"]


async def test_iteration_cap_ends_with_a_clear_message(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP
) -> None:
    llm.add(
        calls(call("lab__status", {"job_id": "a"})), calls(call("lab__status", {"job_id": "a"}))
    )
    async with running_agent(
        llm, settings, extra={"lab": lab}, config={"limits": {"max_iterations": 2}}
    ) as (agent, events):
        result = await agent.run("watch forever")
    assert result.reason == "max_iterations" and result.iterations == 2
    assert "Stopped after 2 iterations" in result.final_text and "resume" in result.final_text
    [done] = events.of("done")
    assert done.reason == "max_iterations" and done.final_text == result.final_text
    assert [e.iteration for e in events.of("iteration")] == [1, 2]


async def test_read_only_calls_run_together_and_writes_in_order(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, lab_state: LabState
) -> None:
    order = ["r1", "w1", "r2", "r3", "w2"]

    def results_in_call_order(request: dict) -> bool | str:
        ids = [m["tool_call_id"] for m in tool_results(request)]
        return ids == order or repr(ids)

    llm.add(
        calls(
            call("lab__slow_read", {"seconds": 0.3}, id="r1"),
            call("lab__write_note", {"note": "first"}, id="w1"),
            call("lab__slow_read", {"seconds": 0.5}, id="r2"),
            call("lab__slow_read", {"seconds": 0.5}, id="r3"),
            call("lab__write_note", {"note": "second"}, id="w2"),
        ),
        say("done", expect=results_in_call_order),
    )
    async with running_agent(llm, settings, extra={"lab": lab}) as (agent, _):
        assert (await agent.run("go")).reason == "completed"
    assert lab_state.writes == ["first", "second"]
    (_, r1_end), (a_start, a_end), (b_start, b_end) = sorted(lab_state.reads)
    # r2 and r3 overlapped; the first write waited for r1; the second for both r2 and r3.
    assert max(a_start, b_start) < min(a_end, b_end)
    w1, w2 = lab_state.write_times
    assert r1_end <= w1 <= a_start and w2 >= max(a_end, b_end)


class ToolCallWatch(EventLog):
    """An event log that also says when the first tool call went out."""

    def __init__(self) -> None:
        super().__init__()
        self.tool_called = asyncio.Event()

    def __call__(self, event: object) -> None:
        super().__call__(event)
        if getattr(event, "kind", "") == "tool_call":
            self.tool_called.set()


async def test_ctrl_c_cancels_the_turn_and_answers_the_pending_call(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP
) -> None:
    def saw_cancel_stub(request: dict) -> bool | str:
        texts = [m["content"] for m in tool_results(request)]
        return (len(texts) == 1 and "Cancelled by the user" in texts[0]) or repr(texts)

    llm.add(calls(call("lab__block", {"seconds": 30})), say("understood", expect=saw_cancel_stub))
    events = ToolCallWatch()
    async with running_agent(llm, settings, extra={"lab": lab}, events=events) as (agent, _):
        run = asyncio.create_task(agent.run("wait"))
        await asyncio.wait_for(events.tool_called.wait(), 30)
        await asyncio.sleep(0.1)  # let the call reach the lab server
        assert agent.cancel()
        result = await asyncio.wait_for(run, 5)
        assert result.reason == "cancelled"
        assert events.of("done")[-1].reason == "cancelled"
        assert not agent.cancel()  # nothing running any more
        # The conversation goes on: the cancelled call has a result, so the history is valid.
        assert (await agent.run("never mind")).reason == "completed"


async def test_open_plan_items_get_a_bounded_continuation_nudge(
    llm: ScriptedLLM, settings: Settings
) -> None:
    todos = [
        {"id": "1", "content": "inspect the dataset", "status": "completed"},
        {"id": "2", "content": "train the model", "status": "in_progress"},
        {"id": "3", "content": "push to the hub", "status": "pending"},
    ]

    def nudged(count: int):
        def check(request: dict) -> bool | str:
            nudges = [
                m["content"] for m in request["messages"] if "open item(s)" in str(m.get("content"))
            ]
            ok = len(nudges) == count and "[pending] push to the hub" in nudges[-1]
            return ok or f"expected {count} nudges, got {nudges}"

        return check

    llm.add(
        calls(call("plan_update", {"plan_id": "exp", "todos": todos})),
        say("All done!"),
        say("Really done.", expect=nudged(1)),
        say("I cannot push without a token.", expect=nudged(2)),
    )
    async with running_agent(llm, settings, config={"limits": {"max_continuation_nudges": 2}}) as (
        agent,
        events,
    ):
        result = await agent.run("train and push")
    assert result.reason == "completed" and result.final_text == "I cannot push without a token."
    nudges = events.of("nudge")
    assert [n.reason for n in nudges] == ["continuation", "continuation"]
    assert "2 open item(s)" in nudges[0].text


async def test_no_nudge_without_a_plan(llm: ScriptedLLM, settings: Settings) -> None:
    llm.add(say("Nothing to plan."))
    async with running_agent(llm, settings) as (agent, events):
        await agent.run("hi")
    assert not events.of("nudge")


async def test_oversized_results_are_cut_with_a_pointer_to_the_full_text(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP
) -> None:
    seen: dict[str, str] = {}

    def cut(request: dict) -> bool | str:
        [message] = tool_results(request)
        seen["text"] = message["content"]
        return (
            len(message["content"]) < 3000
            or f"result of {len(message['content'])} chars reached the model"
        )

    llm.add(calls(call("lab__big", {"chars": 100_000})), say("skimmed it", expect=cut))
    config = {"limits": {"max_tool_result_chars": 2500}}
    async with running_agent(llm, settings, extra={"lab": lab}, config=config) as (agent, _):
        await agent.run("read the big thing")
    text = seen["text"]
    assert text.startswith("HEAD-") and text.endswith("-TAIL") and "characters cut" in text
    check_saved_output(Path(text.split("full output saved to ")[1].split("]")[0].strip()))


def check_saved_output(path: Path) -> None:
    full = path.read_text()
    assert full.endswith("-TAIL") and len(full) > 100_000
    assert path.stat().st_mode & 0o777 == 0o600
