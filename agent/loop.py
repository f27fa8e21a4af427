"""The agent loop: ask the model, run its tool calls, repeat until it answers or a limit stops it.

Each iteration: repair the history, compact it when it nears the window, call the model
(compacting and retrying once if the provider still says it overflows), account the cost, run
the tool calls, and check for a doom loop. The loop ends with a ``RunResult`` and a ``Done``
event in every case — answered, iteration cap, spending cap, waiting for an approval, cancelled
or failed — and never silently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from agent.approvals import ApprovalRequest, Decision
from agent.compaction import Message, summariser_messages, unanswered_calls
from agent.config import Limits
from agent.context import CompactionOutcome, ContextManager, agent_message
from agent.doom_loop import DoomLoopGuard
from agent.events import (
    AssistantDelta,
    AssistantText,
    Compacted,
    Done,
    DoneReason,
    ErrorEvent,
    EventSink,
    IterationStarted,
    Nudged,
    deliver,
)
from agent.llm import ChatModel, ContextOverflow, LLMFailure, ModelReply, ToolCallRequest
from agent.mcp_connections import MCPConnections
from agent.prompts import Prompts
from agent.run_endings import last_plan_id, stuck_text, waiting_text
from agent.sessions import SessionWriter
from agent.spending import Spending
from agent.tool_calls import ToolCallRunner
from server.errors import UserError

log = logging.getLogger(__name__)

CANCELLED_STUB = "Cancelled by the user before this call finished; it may not have run."


@dataclass
class RunResult:
    reason: DoneReason
    final_text: str
    iterations: int
    cost_usd: float
    session_id: str | None = None
    pending: list[ApprovalRequest] = field(default_factory=list)


class Agent:
    """One conversation with one model over a set of MCP tools."""

    def __init__(
        self,
        *,
        model: ChatModel,
        tools: MCPConnections,
        context: ContextManager,
        runner: ToolCallRunner,
        prompts: Prompts,
        limits: Limits,
        emit: EventSink | None = None,
        session: SessionWriter | None = None,
        stream: bool = True,
        started_calls: set[str] | None = None,
    ):
        self.model = model
        self.tools = tools
        self.context = context
        self.runner = runner
        self.prompts = prompts
        self.limits = limits
        self.emit = emit
        self.session = session
        self.stream = stream
        self.iterations = 0
        self.guard = DoomLoopGuard()
        # Calls a previous process started but never finished (from the session file).
        self._started_before = set(started_calls or ())
        self._turn: asyncio.Task[RunResult] | None = None
        self._cancel_requested = False

    @property
    def spending(self) -> Spending:
        # The runner owns it (it also counts job estimates); exposed for /status and reports.
        return self.runner.spending

    @property
    def session_id(self) -> str | None:
        return self.session.session_id if self.session else None

    # --- public -------------------------------------------------------------------------
    async def run(
        self,
        user_message: str | None = None,
        *,
        max_iterations: int | None = None,
        decisions: dict[str, Decision] | None = None,
    ) -> RunResult:
        """Work on ``user_message`` (or continue where the history stops) until done."""
        self.runner.decisions.update(decisions or {})
        self._cancel_requested = False
        self._turn = asyncio.create_task(
            self._run(user_message, max_iterations or self.limits.max_iterations)
        )
        try:
            result = await self._turn
        except asyncio.CancelledError:
            self._close_interrupted_calls(CANCELLED_STUB)
            if not self._cancel_requested:
                raise  # cancelled from outside (shutdown): clean up, then let it propagate
            result = self._result("cancelled", "Cancelled by the user. The session is saved.")
        except UserError as exc:  # actionable: the LLM failed, a server vanished, ...
            self._close_interrupted_calls()
            await deliver(self.emit, ErrorEvent(message=str(exc), actionable=True))
            result = self._result("error", str(exc))
        except Exception as exc:  # a bug in the agent: keep the trace, report, re-raise
            self._close_interrupted_calls()
            log.exception("agent loop failed")
            await deliver(
                self.emit, ErrorEvent(message=f"internal error: {exc!r}", actionable=False)
            )
            self._finish(self._result("error", f"internal error: {exc!r}"))
            raise
        finally:
            self._turn = None
        self._finish(result)
        await deliver(
            self.emit,
            Done(
                reason=result.reason,
                final_text=result.final_text,
                iterations=result.iterations,
                cost_usd=result.cost_usd,
                session_id=self.session_id,
            ),
        )
        return result

    def cancel(self) -> bool:
        """Stop the running turn (Ctrl+C): pending calls get a result, the session is kept."""
        if self._turn is None or self._turn.done():
            return False
        self._cancel_requested = True
        self._turn.cancel()
        return True

    async def compact_now(self) -> CompactionOutcome | None:
        return await self._compact("manual")

    # --- the loop -----------------------------------------------------------------------
    async def _run(self, user_message: str | None, max_iterations: int) -> RunResult:
        nudges = 0
        degenerate_rounds = 0
        if user_message is not None:
            self.context.append({"role": "user", "content": user_message})
        else:
            resumed = await self._resume_unprocessed_calls()
            if resumed is not None:
                return resumed
        for step in range(1, max_iterations + 1):
            self.iterations += 1
            if self.session is not None:
                self.session.write({"type": "iteration", "n": self.iterations})
            await deliver(
                self.emit, IterationStarted(iteration=step, max_iterations=max_iterations)
            )
            self.context.for_request()
            if self.context.needs_compaction():
                await self._compact("threshold")
            reply = await self._ask_model()
            message = reply.as_message()
            if reply.degenerate is not None and not message["content"]:
                message["content"] = "(output cut: it degenerated into repetition)"
            self.context.append(message)
            self.context.record_usage(reply.prompt_tokens, reply.completion_tokens)
            if reply.text:
                await deliver(self.emit, AssistantText(text=reply.text))
            if reply.degenerate is not None:
                degenerate_rounds += 1
                if degenerate_rounds > self.limits.stuck_after_rounds:
                    return self._stuck(f"its output degenerated into {reply.degenerate.describe()}")
                await self._nudge(
                    "degenerate",
                    self.prompts.degenerate.format(pattern=reply.degenerate.describe()),
                )
                continue
            degenerate_rounds = 0
            if not reply.tool_calls:
                if nudges < self.limits.max_continuation_nudges and await self._nudge_open_plan():
                    nudges += 1
                    continue
                return self._result("completed", reply.text)
            if self.spending.reached() and not await self.runner.budget_gate(
                0.0, f"llm-{self.iterations}", "llm"
            ):
                await self.runner.skip_calls(
                    reply.tool_calls, "Not executed: the run stopped at the spending cap."
                )
                return self._budget_stop()
            outcome = await self.runner.run_calls(reply.tool_calls)
            if outcome.stop == "awaiting_approval":
                return self._result(
                    "awaiting_approval", waiting_text(outcome.pending), outcome.pending
                )
            if outcome.stop == "budget":
                return self._budget_stop()
            await self._check_doom_loop()
            if self.guard.ignored_rounds >= self.limits.stuck_after_rounds and self.guard.last:
                return self._stuck(
                    f"it kept repeating {self.guard.last.describe()} after being told to change "
                    f"course ({self.guard.ignored_rounds} more rounds)"
                )
            if self.session is not None:
                self.session.sync()
        return self._result(
            "max_iterations",
            f"Stopped after {max_iterations} iterations, the cap (--max-iterations or "
            "limits.max_iterations). The task may be unfinished; resume the session to continue.",
        )

    async def _resume_unprocessed_calls(self) -> RunResult | None:
        """Run the calls a paused run left without a result (never started ones only)."""
        waiting = [
            c
            for c in unanswered_calls(self.context.messages)
            if c.get("id") not in self._started_before
        ]
        if not waiting:
            return None
        calls = [
            ToolCallRequest(c["id"], c["function"]["name"], c["function"].get("arguments") or "")
            for c in waiting
        ]
        outcome = await self.runner.run_calls(calls)
        if outcome.stop == "awaiting_approval":
            return self._result("awaiting_approval", waiting_text(outcome.pending), outcome.pending)
        if outcome.stop == "budget":
            return self._budget_stop()
        return None

    async def _ask_model(self) -> ModelReply:
        for attempt in (1, 2):
            try:
                reply = await self.model.complete(
                    self.context.for_request(),
                    self.tools.schemas() or None,
                    stream=self.stream,
                    on_text=self._on_text,
                )
            except ContextOverflow as exc:
                # The provider's count beat ours: compact now and try exactly once more.
                if attempt == 2 or await self._compact("overflow") is None:
                    raise LLMFailure(
                        f"The conversation does not fit {self.model.model}'s context window even "
                        f"after compaction ({exc}). Use a model with a larger window, fewer "
                        "toolsets, or set limits.context_tokens lower.",
                        "overflow",
                    ) from exc
                continue
            self._account(reply)
            return reply
        raise AssertionError("unreachable")

    def _account(self, reply: ModelReply) -> None:
        self.spending.llm_usd += reply.cost_usd
        self.spending.llm_cost_known &= reply.cost_known
        if self.session is not None:
            self.session.write(
                {
                    "type": "usage",
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "cache_read_tokens": reply.cache_read_tokens,
                    "cache_write_tokens": reply.cache_write_tokens,
                    "cost_usd": reply.cost_usd,
                }
            )

    async def _on_text(self, text: str) -> None:
        await deliver(self.emit, AssistantDelta(text=text))

    # --- compaction ---------------------------------------------------------------------
    async def _summarise(self, middle: list[Message]) -> str:
        request = summariser_messages(
            middle, self.prompts.compaction, self.context.summariser_budget_chars()
        )
        reply = await self.model.complete(
            request, None, stream=False, max_tokens=self.context.summary_budget_tokens()
        )
        self._account(reply)
        return reply.text

    async def _compact(self, reason: str) -> CompactionOutcome | None:
        outcome = await self.context.compact(self._summarise, reason)
        if outcome is not None:
            await deliver(
                self.emit,
                Compacted(
                    reason=reason,  # type: ignore[arg-type]
                    messages_before=outcome.messages_before,
                    messages_after=outcome.messages_after,
                    tokens_before=outcome.tokens_before,
                    tokens_after=outcome.tokens_after,
                ),
            )
        return outcome

    # --- nudges -------------------------------------------------------------------------
    async def _check_doom_loop(self) -> None:
        detection = self.guard.check(self.context.messages)
        if detection is None:
            return
        await self._nudge("doom_loop", self.prompts.doom_loop.format(pattern=detection.describe()))

    async def _nudge(self, reason: Any, text: str) -> None:
        text = text.strip()
        self.context.append(agent_message(text))
        await deliver(self.emit, Nudged(reason=reason, text=text))

    async def _nudge_open_plan(self) -> bool:
        items = await self.open_plan_items()
        if not items:
            return False
        listing = "\n".join(f"- [{status}] {content}" for status, content in items)
        text = self.prompts.continuation.format(count=len(items), items=listing).strip()
        self.context.append(agent_message(text))
        await deliver(self.emit, Nudged(reason="continuation", text=text))
        return True

    async def open_plan_items(self) -> list[tuple[str, str]]:
        """(status, content) of the unfinished todos of the plan this session updated, if any."""
        updaters = {spec.name for spec in self.tools.with_role("plan.update")}
        plan_id = last_plan_id(self.context.messages, updaters)
        getters = self.tools.with_role("plan.get")
        if plan_id is None or not getters:
            return []
        outcome = await self.tools.call(getters[0].name, {"plan_id": plan_id})
        todos = (
            (outcome.structured or {}).get("todos")
            if isinstance(outcome.structured, dict)
            else None
        )
        return [
            (t.get("status", ""), t.get("content", ""))
            for t in todos or []
            if isinstance(t, dict) and t.get("status") in ("pending", "in_progress")
        ]

    # --- endings ------------------------------------------------------------------------
    def _stuck(self, what: str) -> RunResult:
        return self._result("stuck", stuck_text(what))

    def _budget_stop(self) -> RunResult:
        cap = self.spending.cap_usd or 0.0
        return self._result(
            "budget",
            f"Stopped at the spending cap of ${cap:.2f}: {self.spending.describe()}. Resume the "
            "session with a higher --budget-usd to continue.",
        )

    def _result(
        self, reason: DoneReason, text: str, pending: list[ApprovalRequest] | None = None
    ) -> RunResult:
        return RunResult(
            reason, text, self.iterations, self.spending.total_usd, self.session_id, pending or []
        )

    def _finish(self, result: RunResult) -> None:
        if self.session is not None:
            self.session.write(
                {
                    "type": "done",
                    "reason": result.reason,
                    "iterations": result.iterations,
                    "cost_usd": result.cost_usd,
                }
            )
            self.session.sync(force=True)

    def _close_interrupted_calls(self, stub: str | None = None) -> None:
        if unanswered_calls(self.context.messages):
            self.context.for_request(stub) if stub else self.context.for_request()
