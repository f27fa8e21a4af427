"""Doom-loop detection: pure checks, then the corrective message reaching the model."""

from __future__ import annotations

import json

from agent_helpers import LabState, build_lab, running_agent
from fakes.llm import ScriptedLLM, call, calls, say

from agent.doom_loop import DoomLoopGuard, Signature, detect, signatures
from server.settings import Settings

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]


def turn(i: int, name: str, args: dict, output: str) -> list[dict]:
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"c{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": f"c{i}", "content": output},
    ]


def sequence(*steps: tuple[str, dict, str]) -> list[dict]:
    messages: list[dict] = [{"role": "user", "content": "task"}]
    for i, (name, args, output) in enumerate(steps):
        messages += turn(i, name, args, output)
    return messages


A = ("jobs_status", {"job_id": "j-1"}, "running")
B = ("jobs_logs", {"job_id": "j-1"}, "no new lines")
C = ("sandbox_exec", {"cmd": "ls"}, "train.py")


def test_three_identical_calls_fire_two_do_not() -> None:
    assert detect(signatures(sequence(A, A))) is None
    found = detect(signatures(sequence(C, A, A, A)))
    assert found is not None and found.kind == "identical" and found.repeats == 3
    assert "jobs_status called 3 times" in found.describe()


def test_argument_order_does_not_hide_a_repeat() -> None:
    one = ("x", {"a": 1, "b": 2}, "same")
    other = ("x", {"b": 2, "a": 1}, "same")
    assert detect(signatures(sequence(one, other, one))) is not None


def test_cycles_of_two_to_five_repeated_at_the_end_fire() -> None:
    found = detect(signatures(sequence(C, A, B, A, B)))
    assert (
        found is not None
        and found.kind == "cycle"
        and [s.tool for s in found.pattern] == ["jobs_logs", "jobs_status"]
    )
    five = [(f"t{i}", {}, "r") for i in range(5)]
    assert detect(signatures(sequence(*five, *five))) is not None
    six = [(f"t{i}", {}, "r") for i in range(6)]
    assert detect(signatures(sequence(*six, *six))) is None  # longer than 5: not a cycle we track


def test_polling_with_changing_results_is_progress_not_a_loop() -> None:
    polls = [("jobs_status", {"job_id": "j-1"}, f"step {n}") for n in range(10)]
    assert detect(signatures(sequence(*polls))) is None
    alternating = [
        p for n in range(5) for p in (("jobs_status", {"job_id": "j-1"}, f"step {n}"), B)
    ]
    assert detect(signatures(sequence(*alternating))) is None


def test_a_cycle_not_at_the_end_is_history() -> None:
    assert detect(signatures(sequence(A, B, A, B, C))) is None


def test_guard_fires_once_per_pattern_and_rearms_after_it_breaks() -> None:
    guard = DoomLoopGuard()
    assert guard.check(sequence(A, A, A)) is not None
    assert guard.check(sequence(A, A, A, A)) is None  # same pattern continuing: no second nudge
    assert guard.check(sequence(A, A, A, A, C)) is None  # broke
    assert guard.check(sequence(A, A, A, A, C, A, A, A)) is not None  # new occurrence


def test_cycle_seen_at_another_phase_is_the_same_pattern() -> None:
    guard = DoomLoopGuard()
    assert guard.check(sequence(A, B, A, B)) is not None
    assert guard.check(sequence(A, B, A, B, A)) is None


def test_signature_includes_the_result() -> None:
    sigs = signatures(sequence(("x", {}, "one"), ("x", {}, "two")))
    assert len(set(sigs)) == 2 and all(isinstance(s, Signature) for s in sigs)


async def test_agent_sends_one_corrective_message_then_the_model_recovers(
    llm: ScriptedLLM, settings: Settings
) -> None:
    state = LabState()
    frozen_lab = build_lab(state, frozen_status=True)
    poll = {"job_id": "lab-job-1"}

    def nudged_once(request: dict) -> bool | str:
        nudges = [m for m in request["messages"] if "appear to be stuck" in str(m.get("content"))]
        return len(nudges) == 1 or f"expected one doom-loop nudge, saw {len(nudges)}"

    llm.add(
        calls(call("lab__status", poll)),
        calls(call("lab__status", poll)),
        calls(call("lab__status", poll)),
        calls(call("lab__status", poll), expect=nudged_once),  # the model ignores it once...
        say("The job is stuck at step 0; I stopped polling.", expect=nudged_once),
    )
    async with running_agent(llm, settings, extra={"lab": frozen_lab}) as (agent, events):
        result = await agent.run("watch lab-job-1")
    assert result.reason == "completed"
    nudges = events.of("nudge")
    assert len(nudges) == 1 and nudges[0].reason == "doom_loop"
    assert "lab__status called 3 times" in nudges[0].text
    assert state.polls == 4
