"""Texts and lookups the loop uses when a run ends or pauses (kept apart to keep loop.py small)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from agent.approvals import ApprovalRequest
from agent.compaction import Message


def stuck_text(what: str) -> str:
    return (
        f"Stopped: the model is stuck — {what}. The session is saved; resume it with another "
        "model or a more specific instruction."
    )


def last_plan_id(messages: list[Message], updaters: Collection[str]) -> str | None:
    """The plan_id of the session's latest call to one of ``updaters`` (the tools declaring
    plan.update); None: the plan was never used."""
    for message in reversed(messages):
        for call in reversed(message.get("tool_calls") or []):
            function = call.get("function", {})
            if function.get("name") in updaters:
                try:
                    arguments: Any = json.loads(function.get("arguments") or "{}")
                except json.JSONDecodeError:
                    continue
                return (
                    str(arguments.get("plan_id") or "default")
                    if isinstance(arguments, dict)
                    else "default"
                )
    return None


def waiting_text(pending: list[ApprovalRequest]) -> str:
    names = ", ".join(request.tool for request in pending)
    return f"Paused: waiting for an approval of {names}. Resume the session once it is decided."
