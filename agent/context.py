"""The ContextManager: the message history, its token count, and when and how it shrinks.

Tokens are counted from what the provider reports (``record_usage`` after every reply) plus a
conservative estimate for what was appended since; before that first report the estimate
covers everything. Compaction starts when the count passes ``compact_at_ratio`` of the model's
input window and aims at half the window, so it does not fire again on the next turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from agent.compaction import (
    AGENT_MARK,
    Message,
    apply_compaction,
    estimate_tokens,
    extract_facts,
    plan_compaction,
    render_note,
    repair_tool_pairs,
    shrink_tool_results,
    unanswered_calls,
)
from agent.config import Limits
from agent.tokens import count_json_tokens
from server.output_caps import cap_text

log = logging.getLogger(__name__)

Summariser = Callable[[list[Message]], Awaitable[str]]
Listener = Callable[[str, Any], None]

INTERRUPTED_STUB = (
    "Not executed: the turn was interrupted before this call returned (cancelled, crashed or "
    "killed). Its effect is unknown; check the current state before calling it again."
)


@dataclass
class CompactionOutcome:
    messages_before: int
    messages_after: int
    tokens_before: int
    tokens_after: int


class ContextManager:
    def __init__(
        self,
        messages: list[Message],
        window_tokens: Callable[[], int],
        limits: Limits,
        tool_schemas: list[dict[str, Any]] | None = None,
        plan_tools: Collection[str] = (),
    ):
        self._messages: list[Message] = list(messages)
        self._window_tokens = window_tokens
        self.limits = limits
        self.tools_tokens = count_json_tokens(tool_schemas) if tool_schemas else 0
        # The tools whose results are the plan (declared roles), kept through a compaction.
        self.plan_tools = frozenset(plan_tools)
        self._anchor_tokens: int | None = None
        self._anchor_len = 0
        self._listeners: list[Listener] = []
        self._unchecked = True  # the initial history may come from a session file

    # --- the history --------------------------------------------------------------------
    @property
    def messages(self) -> list[Message]:
        return list(self._messages)

    def subscribe(self, listener: Listener) -> None:
        """``listener("append", message)`` / ``listener("replace", (messages, reason))``."""
        self._listeners.append(listener)

    def append(self, message: Message) -> None:
        self._messages.append(message)
        for listener in self._listeners:
            listener("append", message)

    def replace(self, messages: list[Message], reason: str) -> None:
        self._messages = list(messages)
        self._anchor_tokens = None
        self._unchecked = True
        for listener in self._listeners:
            listener("replace", (list(messages), reason))

    def for_request(self, stub: str = INTERRUPTED_STUB) -> list[Message]:
        """The history to send: every tool call answered, no orphan results."""
        # The loop appends only well-formed turns, so a full scan is needed only after the
        # history came from elsewhere (a session file, a compaction) or a turn was cut short.
        if self._unchecked or unanswered_calls(self._messages):
            repaired, fixes = repair_tool_pairs(self._messages, lambda _id, _name: stub)
            if fixes:
                log.info("repaired %d dangling or orphan tool message(s)", fixes)
                self.replace(repaired, "repair")
            self._unchecked = False
        return list(self._messages)

    # --- token accounting ---------------------------------------------------------------
    @property
    def window(self) -> int:
        return self._window_tokens()

    @property
    def threshold(self) -> int:
        return int(self.window * self.limits.compact_at_ratio)

    def record_usage(self, prompt_tokens: int, completion_tokens: int) -> None:
        """The provider's count for the history up to and including the latest reply."""
        self._anchor_tokens = prompt_tokens + completion_tokens
        self._anchor_len = len(self._messages)

    def used_tokens(self) -> int:
        if self._anchor_tokens is None or self._anchor_len > len(self._messages):
            return estimate_tokens(self._messages) + self.tools_tokens
        return self._anchor_tokens + estimate_tokens(self._messages[self._anchor_len :])

    def needs_compaction(self) -> bool:
        return self.used_tokens() > self.threshold

    def max_tool_result_chars(self) -> int:
        # A single result may take at most a quarter of the window (3 chars per token).
        return min(self.limits.max_tool_result_chars, max(500, self.window * 3 // 4))

    # --- compaction ---------------------------------------------------------------------
    async def compact(self, summarise: Summariser, reason: str) -> CompactionOutcome | None:
        """Summarise the middle of the history; None when there is nothing to summarise."""
        before_tokens, before_count = self.used_tokens(), len(self._messages)
        summary_tokens = self.summary_budget_tokens()
        target = self.window // 2
        plan = None
        for keep in range(self.limits.keep_recent_turns, 0, -1):
            candidate = plan_compaction(self._messages, keep)
            if candidate is None:
                continue
            plan = candidate
            kept = estimate_tokens(plan.head + plan.recent) + self.tools_tokens + summary_tokens
            if kept <= target:
                break
        if plan is None:
            return None
        facts = extract_facts(plan.middle, self.plan_tools)
        try:
            summary = await summarise(plan.middle)
        except Exception as exc:  # the handles are kept anyway; do not lose the run over it
            log.warning("summariser failed, compacting with the handles only: %s", exc)
            summary = (
                f"(summary unavailable: {exc.__class__.__name__}; the handles below are exact)"
            )
        summary = cap_text(summary, summary_tokens * 4, "summary cut")
        compacted = apply_compaction(plan, render_note(summary, facts, len(plan.middle)))
        if estimate_tokens(compacted) + self.tools_tokens > target:
            # Even the most recent turn is too big: cut its tool results.
            compacted = (
                plan.head
                + compacted[len(plan.head) : len(plan.head) + 1]
                + shrink_tool_results(plan.recent, max(500, self.window // 4))
            )
        self.replace(compacted, f"compacted ({reason})")
        return CompactionOutcome(before_count, len(compacted), before_tokens, self.used_tokens())

    def summary_budget_tokens(self) -> int:
        return max(100, min(self.limits.summary_max_tokens, self.window // 8))

    def summariser_budget_chars(self) -> int:
        """How much transcript the summariser may be shown (it has the same window)."""
        return max(2000, (self.window - self.summary_budget_tokens()) * 3 * 6 // 10)


def agent_message(text: str) -> Message:
    """A message the agent injects (nudges, notices), marked so compaction can tell."""
    return {"role": "user", "content": f"{AGENT_MARK} {text}"}
