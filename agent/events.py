"""Typed events: what the agent tells the outside world while it works.

The CLI renders them (rich on stderr, or JSONL with ``--json``); ``run_ml_task`` turns them into
MCP progress notifications and a queryable event log. Every event is a pydantic model with a
``kind`` discriminator and a one-line ``summary()`` short enough for a progress message.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter


class _Event(BaseModel):
    at: float = Field(default_factory=time.time)

    def summary(self) -> str:
        return self.__class__.__name__


class IterationStarted(_Event):
    kind: Literal["iteration"] = "iteration"
    iteration: int
    max_iterations: int

    def summary(self) -> str:
        return f"step {self.iteration}/{self.max_iterations}"


class AssistantDelta(_Event):
    """A streamed fragment of the model's answer (not persisted; the full text follows)."""

    kind: Literal["assistant_delta"] = "assistant_delta"
    text: str

    def summary(self) -> str:
        return self.text


class AssistantText(_Event):
    kind: Literal["assistant"] = "assistant"
    text: str

    def summary(self) -> str:
        return _one_line(self.text)


class ToolCalled(_Event):
    kind: Literal["tool_call"] = "tool_call"
    call_id: str
    tool: str
    arguments: dict[str, Any] | str

    def summary(self) -> str:
        return f"→ {self.tool}({_one_line(_args_text(self.arguments), 80)})"


class ToolOutput(_Event):
    kind: Literal["tool_output"] = "tool_output"
    call_id: str
    tool: str
    output: str = Field(description="The text the model sees (possibly cut).")
    is_error: bool = False
    duration_s: float = 0.0

    def summary(self) -> str:
        mark = "✗" if self.is_error else "✓"
        return f"{mark} {self.tool}: {_one_line(self.output, 100)}"


class ApprovalNeeded(_Event):
    kind: Literal["approval_needed"] = "approval_needed"
    call_id: str
    tool: str
    arguments: dict[str, Any]
    reason: str
    request_kind: Literal["tool", "budget"] = "tool"
    estimated_cost_usd: float | None = None

    def summary(self) -> str:
        return f"approval needed: {self.tool} ({self.reason})"


class ApprovalDecided(_Event):
    kind: Literal["approval_decided"] = "approval_decided"
    call_id: str
    tool: str
    action: Literal["approve", "deny", "defer"]
    by: str = Field(description="policy | user | budget")
    feedback: str | None = None

    def summary(self) -> str:
        return f"{self.action} {self.tool} ({self.by})" + (
            f": {_one_line(self.feedback, 60)}" if self.feedback else ""
        )


class Compacted(_Event):
    kind: Literal["compacted"] = "compacted"
    reason: Literal["threshold", "overflow", "manual"]
    messages_before: int
    messages_after: int
    tokens_before: int
    tokens_after: int

    def summary(self) -> str:
        return (
            f"context compacted ({self.reason}): {self.tokens_before} → ~{self.tokens_after} "
            f"tokens, {self.messages_before} → {self.messages_after} messages"
        )


class Retrying(_Event):
    kind: Literal["retrying"] = "retrying"
    attempt: int
    delay_s: float
    reason: str

    def summary(self) -> str:
        return f"LLM call failed ({self.reason}); retry {self.attempt} in {self.delay_s:.1f}s"


class Nudged(_Event):
    kind: Literal["nudge"] = "nudge"
    reason: Literal["doom_loop", "continuation", "budget", "degenerate"]
    text: str

    def summary(self) -> str:
        return f"nudge ({self.reason}): {_one_line(self.text, 100)}"


class Notice(_Event):
    """Something the user should know, once; the run goes on (a parameter the model refused)."""

    kind: Literal["notice"] = "notice"
    text: str

    def summary(self) -> str:
        return f"note: {_one_line(self.text, 160)}"


class ErrorEvent(_Event):
    kind: Literal["error"] = "error"
    message: str
    actionable: bool = Field(description="True: the user can fix it; False: a bug.")

    def summary(self) -> str:
        return f"error: {_one_line(self.message, 160)}"


DoneReason = Literal[
    "completed", "max_iterations", "budget", "cancelled", "error", "awaiting_approval", "stuck"
]


class Done(_Event):
    kind: Literal["done"] = "done"
    reason: DoneReason
    final_text: str
    iterations: int
    cost_usd: float
    session_id: str | None = None

    def summary(self) -> str:
        return f"done ({self.reason}) after {self.iterations} steps, ${self.cost_usd:.4f}"


Event = Annotated[
    IterationStarted
    | AssistantDelta
    | AssistantText
    | ToolCalled
    | ToolOutput
    | ApprovalNeeded
    | ApprovalDecided
    | Compacted
    | Retrying
    | Nudged
    | Notice
    | ErrorEvent
    | Done,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EventSink = Callable[[Any], Awaitable[None] | None]


async def deliver(sink: EventSink | None, event: _Event) -> None:
    """Hand ``event`` to ``sink``, which may be sync or async."""
    if sink is None:
        return
    result = sink(event)
    if inspect.isawaitable(result):
        await result


class EventLog:
    """A sink that keeps every event: for tests, and for status polling."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.kind == kind]


def _args_text(arguments: dict[str, Any] | str) -> str:
    if isinstance(arguments, str):
        return arguments
    return ", ".join(f"{k}={v!r}" for k, v in arguments.items())


def _one_line(text: str | None, limit: int = 200) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
