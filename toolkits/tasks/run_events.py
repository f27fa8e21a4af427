"""Turning the agent's events into what a run keeps: a short summary and bounded, redacted data.

The event log is what ml_task pages through and what the report's artifacts are read
from, so tool outputs are kept (cut to a few thousand characters: ids and verdicts come first
in every mlintern rendering) while streamed text fragments are not kept at all.
"""

from __future__ import annotations

import json
from typing import Any

from server.output_caps import clip_value
from server.redact import redact, redact_data

MAX_FIELD_CHARS = 2_000
MAX_TEXT_CHARS = 8_000
SKIPPED_KINDS = ("assistant_delta",)  # the full text follows as one 'assistant' event


def _clip(data: Any, limit: int) -> Any:
    if isinstance(data, str):
        return clip_value(data, limit)
    if isinstance(data, dict):
        return {key: _clip(value, limit) for key, value in data.items()}
    if isinstance(data, list):
        return [_clip(value, limit) for value in data[:50]]
    return data


def event_record(event: Any, secrets: tuple[str, ...]) -> tuple[str, str, dict[str, Any]] | None:
    """(kind, one-line summary, data) for a persisted event; None for events not kept."""
    kind = str(getattr(event, "kind", ""))
    if kind in SKIPPED_KINDS or not kind:
        return None
    data = event.model_dump(mode="json", exclude={"at", "kind"})
    long_text = {"final_text", "text"}
    data = {
        key: clip_value(value, MAX_TEXT_CHARS)
        if key in long_text and isinstance(value, str)
        else _clip(value, MAX_FIELD_CHARS)
        for key, value in data.items()
    }
    summary = clip_value(" ".join(event.summary().split()), 300)
    return kind, redact(summary, secrets), redact_data(data, secrets)


def progress_message(kind: str, summary: str, data: dict[str, Any], step: int | None) -> str:
    """What a host shows in its progress line for one event."""
    if kind == "iteration":
        return summary
    prefix = f"step {step}: " if step else ""
    if kind == "tool_call":
        arguments = data.get("arguments")
        text = json.dumps(arguments, default=str) if isinstance(arguments, dict) else ""
        return f"{prefix}calling {data.get('tool')}({clip_value(text, 100)})"
    return prefix + summary


def notify_approvals(settings: Any, store: Any, run_id: str, pending: list[Any]) -> None:
    """Tell the webhooks (server/notify.py) a delegated run waits for a person: once per
    request, however often the pending list is saved."""
    from server.notify import notify

    for request in pending:
        arguments = json.dumps(request.arguments, default=str)
        fields = {
            "run_id": run_id,
            "tool": request.tool,
            "arguments": arguments,
            "reason": request.reason,
            "answer_with": f"ml_task(run_id={run_id!r}, action='approve')",
        }
        summary = f"run {run_id} waits for approval of {request.tool}"
        notify(
            settings,
            store,
            "approval_waiting",
            f"{run_id}:{request.call_id}",
            summary,
            fields,
            once=True,
        )
