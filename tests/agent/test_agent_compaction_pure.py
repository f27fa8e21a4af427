"""Compaction and history repair as pure functions: no model, no server."""

from __future__ import annotations

import json

from agent.compaction import (
    SUMMARY_HEADING,
    apply_compaction,
    extract_facts,
    plan_compaction,
    render_note,
    repair_tool_pairs,
    summariser_messages,
    unanswered_calls,
)


def call_message(*calls: tuple[str, str, dict]) -> dict:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": cid,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for cid, name, args in calls
        ],
    }


def result(cid: str, text: str) -> dict:
    return {"role": "tool", "tool_call_id": cid, "content": text}


def history(turns: int) -> list[dict]:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "train a model"}]
    for i in range(turns):
        messages.append(call_message((f"c{i}", "lab__status", {"job_id": "j-1"})))
        messages.append(result(f"c{i}", f"step {i}"))
    return messages


def test_plan_keeps_system_task_and_recent_turns_with_their_results() -> None:
    messages = history(10)
    plan = plan_compaction(messages, keep_recent_turns=3)
    assert plan is not None
    assert plan.head == messages[:2]
    assert plan.recent == messages[-6:]
    assert plan.middle == messages[2:-6]
    # Every kept call still has its result right after it, and no result lost its call.
    kept_calls = {c["id"] for m in plan.recent if m["role"] == "assistant" for c in m["tool_calls"]}
    kept_results = {m["tool_call_id"] for m in plan.recent if m["role"] == "tool"}
    assert kept_calls == kept_results == {"c7", "c8", "c9"}


def test_plan_never_cuts_between_a_call_and_its_results() -> None:
    messages = history(2)
    messages.append(call_message(("a", "x", {}), ("b", "y", {}), ("c", "z", {})))
    messages += [result("a", "1"), result("b", "2"), result("c", "3")]
    plan = plan_compaction(messages, keep_recent_turns=1)
    assert plan is not None
    assert plan.recent[0]["role"] == "assistant"
    assert [m["tool_call_id"] for m in plan.recent[1:]] == ["a", "b", "c"]


def test_nothing_to_compact_when_history_is_short() -> None:
    assert plan_compaction(history(3), keep_recent_turns=3) is None
    assert plan_compaction(history(4), keep_recent_turns=3) is not None


def test_facts_keep_ids_files_and_plan_from_the_summarised_part() -> None:
    middle = [
        call_message(("s", "sandbox_create", {})),
        result("s", '{"sandbox_id": "sbx-a1b2c3", "status": "ready"}'),
        call_message(
            ("w", "sandbox_files", {"sandbox_id": "sbx-a1b2c3", "op": "write", "path": "train.py"})
        ),
        result("w", "wrote 120 lines"),
        call_message(("j", "jobs_submit", {"script": "train.py", "config_file": "cfg.yaml"})),
        result("j", "Submitted. job_id: j-42 (status queued)"),
        call_message(("p", "plan_update", {"todos": []})),
        result("p", "Plan 'default' (v3): 1/3 completed\n[x] 1. data\n[~] 2. train\n[ ] 3. push"),
        {"role": "user", "content": "also push it to the hub as me/tiny"},
    ]
    facts = extract_facts(middle, plan_tools={"plan_update", "plan_get"})
    assert facts.handles["sandbox_id"] == ["sbx-a1b2c3"]
    assert facts.handles["job_id"] == ["j-42"]
    assert facts.files == ["train.py", "cfg.yaml"]
    assert facts.plan is not None and "[~] 2. train" in facts.plan
    assert facts.latest_request == "also push it to the hub as me/tiny"
    # The plan is found by the tools' declared role, not their name.
    assert extract_facts(middle).plan is None
    note = render_note("Trained once; loss fell to 0.3.", facts, len(middle))
    assert note.startswith(SUMMARY_HEADING)
    for needle in ("j-42", "sbx-a1b2c3", "train.py", "cfg.yaml", "[ ] 3. push", "loss fell to 0.3"):
        assert needle in note


def test_a_second_compaction_keeps_the_ids_of_the_first() -> None:
    first = render_note("old work", extract_facts([result("x", "job_id: j-1")]), 5)
    later = [
        {"role": "user", "content": first},
        call_message(("y", "jobs_status", {"job_id": "j-2"})),
        result("y", "ok"),
    ]
    facts = extract_facts(later)
    assert facts.handles["job_id"] == ["j-1", "j-2"]
    # The earlier summary is not mistaken for a request from the user.
    assert facts.latest_request is None


def test_apply_compaction_splices_the_note_between_task_and_recent() -> None:
    messages = history(8)
    plan = plan_compaction(messages, 2)
    assert plan is not None
    compacted = apply_compaction(plan, "NOTE")
    assert compacted[:2] == messages[:2]
    assert compacted[2] == {"role": "user", "content": "NOTE"}
    assert compacted[3:] == messages[-4:]


def test_summariser_request_fits_its_budget_and_names_the_calls() -> None:
    middle = [call_message(("a", "lab__big", {})), result("a", "z" * 50_000)] * 3
    request = summariser_messages(middle, "SUMMARISE", budget_chars=6000)
    assert request[0] == {"role": "system", "content": "SUMMARISE"}
    assert len(request[1]["content"]) < 6500
    assert (
        "CALL lab__big" in request[1]["content"] and "RESULT of lab__big" in request[1]["content"]
    )


def test_dangling_calls_get_stub_results_before_the_next_message() -> None:
    messages = [
        {"role": "user", "content": "go"},
        call_message(("a", "x", {}), ("b", "y", {})),
        result("a", "done"),
        {"role": "user", "content": "next"},
        call_message(("c", "z", {})),
    ]
    repaired, fixes = repair_tool_pairs(messages, lambda cid, name: f"STUB {cid} {name}")
    assert fixes == 2
    assert repaired[3] == {"role": "tool", "tool_call_id": "b", "content": "STUB b y"}
    assert repaired[4]["content"] == "next"
    assert repaired[-1] == {"role": "tool", "tool_call_id": "c", "content": "STUB c z"}


def test_orphan_results_are_dropped_and_a_clean_history_is_untouched() -> None:
    clean = history(3)
    assert repair_tool_pairs(clean, lambda *_: "never") == (clean, 0)
    orphaned = [clean[0], clean[1], result("ghost", "who called me?"), *clean[2:]]
    repaired, fixes = repair_tool_pairs(orphaned, lambda *_: "never")
    assert fixes == 1 and repaired == clean


def test_unanswered_calls_of_the_last_assistant_message() -> None:
    messages = [*history(1), call_message(("a", "x", {}), ("b", "y", {})), result("a", "ok")]
    assert [c["id"] for c in unanswered_calls(messages)] == ["b"]
    assert unanswered_calls(history(2)) == []
