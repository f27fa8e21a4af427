"""Every model call is bounded, and a stuck run stops: degenerate streams, stalls, no first
token, and a model that ignores the doom-loop nudge, against live loopback streams."""

from __future__ import annotations

import json
import time

from agent_helpers import LabState, build_lab, running_agent
from fakes.llm import Reply, ScriptedLLM, call, calls, say
from fakes.llm_stream import ENDLESS_CAP, endless, stall
from helpers import poll_until

from agent.stream_guard import find_degeneration
from server.settings import Settings

pytest_plugins = ["agent_testkit"]

GARBAGE = "<|im_end|>\n"


def test_degeneration_needs_a_long_repetition_of_a_short_unit() -> None:
    answer = "Here is the table:\n" + "| 0 | 0 |\n" * 40 + "-" * 120 + "\nDone."
    assert find_degeneration(answer) is None  # a real answer with repetitive parts
    found = find_degeneration("Plan: step one.\n" + GARBAGE * 300)
    # The repetition starts at the newline before the first marker: the unit is read from there.
    assert found is not None and found.unit == "\n<|im_end|>" and found.repeats == 300
    assert found.kept == "Plan: step one."
    rotated = find_degeneration(GARBAGE * 300 + "<|im_")
    assert rotated is not None and rotated.unit == GARBAGE and rotated.kept == ""
    cycle = find_degeneration("ok " + "ab cd ef\n" * 300)
    assert cycle is not None and cycle.kept == "ok " and cycle.repeats == 300


async def test_degenerate_stream_is_cut_and_the_model_is_told(
    llm: ScriptedLLM, settings: Settings
) -> None:
    garbage = endless(GARBAGE)

    def told_not_fed(request: dict) -> bool | str:
        text = " ".join(str(m.get("content")) for m in request["messages"])
        if text.count("im_end") != 1:  # once: where the agent names the repeated unit
            return "the degenerate output was fed back to the model"
        return "degenerated into '<|im_end|>\\n' repeated" in text or "model was not told"

    llm.add(
        Reply(text="Let me think.\n", live=garbage, label="endless im_end"),
        say("The dataset has 3 columns.", expect=told_not_fed),
    )
    async with running_agent(llm, settings) as (agent, events):
        result = await agent.run("describe the dataset")
    assert result.reason == "completed" and result.final_text == "The dataset has 3 columns."
    nudges = events.of("nudge")
    assert [n.reason for n in nudges] == ["degenerate"]
    # The agent hung up; the stream never ended.
    await poll_until(lambda: garbage.hung_up, 10, "the agent to hang up", step=0.02)
    assert garbage.written < ENDLESS_CAP


async def test_a_model_that_keeps_degenerating_ends_stuck(
    llm: ScriptedLLM, settings: Settings
) -> None:
    # Alternating chunks: litellm's identical-chunk check never fires, the agent's guard does.
    llm.add(*[Reply(live=endless("<|im_end|>", "\n"), label=f"endless {i}") for i in range(3)])
    config = {"limits": {"stuck_after_rounds": 2}}
    async with running_agent(llm, settings, config=config) as (agent, events):
        result = await agent.run("describe the dataset")
    assert result.reason == "stuck" and result.iterations == 3
    assert result.final_text.startswith("Stopped: the model is stuck — its output degenerated")
    assert "'<|im_end|>\\n' repeated" in result.final_text
    assert len(events.of("nudge")) == 2
    assert events.of("done")[0].reason == "stuck"


async def test_stall_mid_stream_is_cut_and_retried(llm: ScriptedLLM, settings: Settings) -> None:
    llm.add(
        Reply(text="A long answer that stops", live=stall(after_chunks=2, for_s=5)),
        say("Recovered answer."),
    )
    config = {"limits": {"stream_idle_timeout_s": 0.5, "llm_attempts": 2}}
    async with running_agent(llm, settings, config=config) as (agent, events):
        started = time.monotonic()  # the tools are listed: only the run is timed
        result = await agent.run("answer")
        elapsed = time.monotonic() - started
    assert elapsed < 4  # the 5 s silence was not waited out
    assert result.reason == "completed" and result.final_text == "Recovered answer."
    retries = events.of("retrying")
    assert [r.reason for r in retries] == ["stream stalled: the stream went idle for 0.5s"]


async def test_no_first_token_fails_the_run_with_a_clear_message(
    llm: ScriptedLLM, settings: Settings
) -> None:
    llm.add(Reply(text="never", live=stall(before_s=5)))
    config = {"limits": {"first_token_timeout_s": 0.5, "llm_attempts": 1}}
    async with running_agent(llm, settings, config=config) as (agent, _events):
        result = await agent.run("answer")
    assert result.reason == "error"
    assert "kept failing: no first token for 0.5s (1 attempts" in result.final_text


async def test_ignored_doom_loop_nudge_ends_the_run_stuck_and_saved(
    llm: ScriptedLLM, settings: Settings
) -> None:
    state = LabState()
    poll = {"job_id": "lab-job-1"}
    llm.add(*[calls(call("lab__status", poll)) for _ in range(5)])
    lab = build_lab(state, frozen_status=True)
    async with running_agent(llm, settings, extra={"lab": lab}) as (agent, events):
        result = await agent.run("watch lab-job-1")
    assert result.reason == "stuck" and state.polls == 5
    assert "it kept repeating lab__status called 5 times in a row" in result.final_text
    assert "after being told to change course (2 more rounds)" in result.final_text
    assert [n.reason for n in events.of("nudge")] == ["doom_loop"]
    files = list((settings.home / "sessions").rglob("*.jsonl"))
    assert len(files) == 1
    done = [json.loads(line) for line in files[0].read_text().splitlines()][-1]
    assert done["type"] == "done" and done["reason"] == "stuck"
