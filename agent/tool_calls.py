"""Running one turn's tool calls: arguments, approvals, the spending cap, concurrency, results.

Read-only calls that need no approval run concurrently; every other call runs alone, in the
order the model gave, after the read-only calls before it have finished (a write may depend on
what was just read, and a person approving it should see those results first). Every call the
model made gets exactly one result message, including the malformed, the unknown, the refused
and the ones skipped because the run stopped.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.approvals import ApprovalPolicy, ApprovalRequest, Approver, Decision, denial_text
from agent.config import Limits
from agent.context import ContextManager
from agent.events import ApprovalDecided, ApprovalNeeded, EventSink, ToolCalled, ToolOutput, deliver
from agent.llm import ToolCallRequest
from agent.mcp_connections import MCPConnections, ToolSpec
from agent.sessions import SessionWriter, scrub
from agent.spending import JobCostEstimator, Spending
from server.output_caps import cap_text

Vetting = Literal["run", "refused", "defer", "budget"]


@dataclass
class TurnOutcome:
    stop: Literal["budget", "awaiting_approval"] | None = None
    pending: list[ApprovalRequest] = field(default_factory=list)


def parse_arguments(name: str, raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """The call's arguments as a dict, or a message telling the model what was wrong."""
    if not raw or not raw.strip():
        return {}, None  # several providers send "" for a call without arguments
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, (
            f"Your arguments for {name} are not valid JSON ({exc.msg} at character {exc.pos}): "
            f"{raw[:300]!r}. The call was not executed. Call {name} again with one JSON object "
            "that matches its parameter schema."
        )
    if not isinstance(parsed, dict):
        return None, (
            f"Your arguments for {name} must be a JSON object of named parameters, not "
            f"{type(parsed).__name__}. The call was not executed."
        )
    return parsed, None


@dataclass
class ToolCallRunner:
    tools: MCPConnections
    context: ContextManager
    policy: ApprovalPolicy
    approver: Approver
    spending: Spending
    limits: Limits
    emit: EventSink | None = None
    session: SessionWriter | None = None
    # Decisions known before the run asks (resuming a run that paused for approval).
    decisions: dict[str, Decision] = field(default_factory=dict)
    # The config's credentials (API key, auth headers), redacted like the environment's.
    secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.estimator = JobCostEstimator(self.tools)

    async def run_calls(self, calls: list[ToolCallRequest]) -> TurnOutcome:
        outcome = TurnOutcome()
        batch: list[tuple[ToolCallRequest, ToolSpec, dict[str, Any]]] = []
        for call in calls:
            arguments, problem = parse_arguments(call.name, call.arguments)
            await deliver(
                self.emit,
                ToolCalled(
                    call_id=call.id,
                    tool=call.name,
                    arguments=arguments if arguments is not None else call.arguments,
                ),
            )
            spec = self.tools.tools.get(call.name)
            if outcome.stop == "budget":
                await self._answer(call, "Not executed: the run stopped at the spending cap.", True)
                continue
            if problem is not None or arguments is None:
                await self._answer(call, problem or "invalid arguments", True)
                continue
            if spec is None:
                unknown = await self.tools.call(call.name, arguments)
                await self._answer(call, unknown.text, True)
                continue
            verdict, _ = self.policy.verdict(spec)
            if spec.read_only and verdict == "allow":
                batch.append((call, spec, arguments))
                continue
            await self._run_batch(batch)
            batch = []
            vetting = await self._vet(call, spec, arguments)
            if vetting == "defer":
                outcome.stop = "awaiting_approval"
                outcome.pending = [self._request(call, spec, arguments)]
                if self.session is not None:
                    self.session.write(
                        {"type": "paused", "requests": [r.model_dump() for r in outcome.pending]}
                    )
                return outcome  # this and later calls stay unanswered until the run resumes
            if vetting == "budget":
                outcome.stop = "budget"
            elif vetting == "run":
                await self._run_batch([(call, spec, arguments)])
        await self._run_batch(batch)
        return outcome

    async def skip_calls(self, calls: list[ToolCallRequest], reason: str) -> None:
        """Answer calls the run will not execute (it is stopping), so the history stays valid."""
        for call in calls:
            await deliver(
                self.emit, ToolCalled(call_id=call.id, tool=call.name, arguments=call.arguments)
            )
            await self._answer(call, reason, True)

    # --- approvals and the cap ----------------------------------------------------------
    def _request(
        self, call: ToolCallRequest, spec: ToolSpec, arguments: dict[str, Any]
    ) -> ApprovalRequest:
        _, why = self.policy.verdict(spec)
        return ApprovalRequest(call_id=call.id, tool=spec.name, arguments=arguments, reason=why)

    async def _vet(
        self, call: ToolCallRequest, spec: ToolSpec, arguments: dict[str, Any]
    ) -> Vetting:
        verdict, why = self.policy.verdict(spec)
        if verdict == "deny":
            decision = Decision.deny(f"refused by policy: {why}")
            await deliver(
                self.emit,
                ApprovalDecided(
                    call_id=call.id, tool=spec.name, action="deny", by="policy", feedback=why
                ),
            )
            await self._answer(call, denial_text(spec.name, decision, "policy"), True)
            return "refused"
        if verdict == "ask":
            decision = await self.decide(self._request(call, spec, arguments))
            if decision.action == "defer":
                return "defer"
            if decision.action == "deny":
                await self._answer(call, denial_text(spec.name, decision, "user"), True)
                return "refused"
            if decision.always:
                self.policy.session_allowed.add(spec.name)
        estimate = await self.estimator.estimate(spec, arguments)
        if estimate:
            if self.spending.would_exceed(estimate) and not await self.budget_gate(
                estimate, call.id, spec.name
            ):
                await self._answer(
                    call,
                    f"Not executed: this job may cost up to ${estimate:.2f}, which would pass the "
                    f"spending cap (${self.spending.cap_usd:.2f}; {self.spending.describe()}).",
                    True,
                )
                return "budget"
            self.spending.jobs_usd += estimate
        return "run"

    async def decide(self, request: ApprovalRequest) -> Decision:
        await deliver(
            self.emit,
            ApprovalNeeded(
                call_id=request.call_id,
                tool=request.tool,
                arguments=request.arguments,
                reason=request.reason,
                request_kind=request.kind,
                estimated_cost_usd=request.estimated_cost_usd,
            ),
        )
        decision = self.decisions.pop(request.call_id, None) or await self.approver(request)
        by = "budget" if request.kind == "budget" else "user"
        await deliver(
            self.emit,
            ApprovalDecided(
                call_id=request.call_id,
                tool=request.tool,
                action=decision.action,
                by=by,
                feedback=decision.feedback,
            ),
        )
        return decision

    async def budget_gate(self, extra_usd: float, call_id: str, tool: str) -> bool:
        """Ask whether to go past the cap; True raises it (to the new value given, at least)."""
        cap = self.spending.cap_usd or 0.0
        reason = f"the spending cap of ${cap:.2f} is reached: {self.spending.describe()}"
        if extra_usd:
            reason += f"; this call may cost up to ${extra_usd:.2f}"
        decision = await self.decide(
            ApprovalRequest(
                call_id=call_id,
                tool=tool,
                arguments={},
                reason=reason,
                kind="budget",
                estimated_cost_usd=extra_usd or None,
            )
        )
        if decision.action != "approve":
            return False
        self.spending.cap_usd = max(
            decision.new_budget_usd or 0.0, self.spending.total_usd + extra_usd
        )
        return True

    # --- execution ----------------------------------------------------------------------
    async def _run_batch(
        self, batch: list[tuple[ToolCallRequest, ToolSpec, dict[str, Any]]]
    ) -> None:
        if not batch:
            return
        gate = asyncio.Semaphore(self.limits.max_parallel_tools)

        async def one(
            call: ToolCallRequest, spec: ToolSpec, arguments: dict[str, Any]
        ) -> tuple[str, bool, float]:
            async with gate:
                if self.session is not None:
                    self.session.write(
                        {"type": "tool_started", "call_id": call.id, "tool": spec.name}
                    )
                started = time.monotonic()
                result = await self.tools.call(spec.name, arguments)
                return result.text, result.is_error, time.monotonic() - started

        results = await asyncio.gather(*(one(*item) for item in batch))
        for (call, _, _), (text, is_error, seconds) in zip(batch, results, strict=True):
            await self._answer(call, text, is_error, seconds)

    async def _answer(
        self, call: ToolCallRequest, text: str, is_error: bool, seconds: float = 0.0
    ) -> None:
        # A tool of another server may echo a credential; the model's provider must not see it.
        text = scrub(text, self.secrets)
        limit = self.context.max_tool_result_chars()
        if len(text) > limit:
            note = "the rest is not shown"
            if self.session is not None:
                note = f"full output saved to {self.session.save_output(call.id, text)}"
            text = cap_text(text, limit, note)
        content = f"Error: {text}" if is_error and not text.startswith("Error") else text
        self.context.append({"role": "tool", "tool_call_id": call.id, "content": content})
        await deliver(
            self.emit,
            ToolOutput(
                call_id=call.id,
                tool=call.name,
                output=content,
                is_error=is_error,
                duration_s=round(seconds, 3),
            ),
        )
