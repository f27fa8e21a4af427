"""The Claude Code transcript of a session's records, in the cases a short live run does not
reach: a compaction (its summary joins the trace, marked), thinking, malformed tool arguments,
an agent nudge, a failed tool call. Every line is checked against the documented schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from agent.compaction import AGENT_MARK
from agent.trace_export import claude_code_lines

SCHEMA = json.loads((Path(__file__).parent / "claude_code_trace.schema.json").read_text())

SYSTEM = {"role": "system", "content": "You are an ML engineer."}
TASK = {"role": "user", "content": "train it"}
CALL = {
    "role": "assistant",
    "content": None,
    "thinking_blocks": [{"type": "thinking", "thinking": "Submit first.", "signature": "s"}],
    "tool_calls": [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "jobs_submit", "arguments": "{not json"},
        }
    ],
}
FAILED = {"role": "tool", "tool_call_id": "c1", "content": "Error: arguments are not JSON"}
NUDGE = {"role": "user", "content": f"{AGENT_MARK} You repeated the same call."}
SUMMARY = {"role": "user", "content": f"{AGENT_MARK} Summary so far: job j-1 failed."}
ANSWER = {"role": "assistant", "content": "Job j-1 failed; fixed the config."}


def records() -> list[dict]:
    def message(m: dict, at: float) -> dict:
        return {"at": at, "type": "message", "message": m}

    return [
        {"at": 1.0, "type": "meta", "session_id": "s-1", "model": "anthropic/claude-sonnet-4-5"},
        message(SYSTEM, 1.0),
        message(TASK, 1.1),
        {
            "at": 1.2,
            "type": "usage",
            "prompt_tokens": 900,
            "completion_tokens": 40,
            "cache_read_tokens": 800,
            "cache_write_tokens": 0,
        },
        message(CALL, 1.2),
        message(FAILED, 1.3),
        message(NUDGE, 1.4),
        {
            "at": 1.5,
            "type": "replace",
            "reason": "compacted (threshold)",
            "messages": [SYSTEM, TASK, SUMMARY],
        },
        message(ANSWER, 1.6),
    ]


def test_every_kind_of_record_becomes_a_valid_transcript_line() -> None:
    lines = claude_code_lines(records(), "s-1")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for line in lines:
        validator.validate(line)
    kinds = [(line["type"], line.get("isMeta", False), line.get("isCompactSummary", False)) for line in lines]  # fmt: skip
    assert kinds == [
        ("user", False, False),  # the task (the system prompt is not part of a transcript)
        ("assistant", False, False),
        ("user", False, False),  # the tool result
        ("user", True, False),  # the nudge
        ("user", True, True),  # the compaction summary, once
        ("assistant", False, False),
    ]
    thinking, use = lines[1]["message"]["content"]
    assert thinking == {"type": "thinking", "thinking": "Submit first."}
    assert use["input"] == {"raw_arguments": "{not json"}
    assert lines[1]["message"]["usage"] == {
        "input_tokens": 100,
        "output_tokens": 40,
        "cache_read_input_tokens": 800,
        "cache_creation_input_tokens": 0,
    }
    [result] = lines[2]["message"]["content"]
    assert result["is_error"] is True and result["tool_use_id"] == "c1"
    assert lines[0]["timestamp"] == "1970-01-01T00:00:01.100Z"
    # Derived identifiers: sharing the same session again writes the same lines.
    assert claude_code_lines(records(), "s-1") == lines
    assert claude_code_lines(records(), "s-2")[0]["uuid"] != lines[0]["uuid"]
