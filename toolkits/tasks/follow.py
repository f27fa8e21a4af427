"""Following a run from inside the run_ml_task call: progress, and approvals reaching a person.

Each new event of the run becomes a progress notification. An approval the run waits for goes
to the person at the host the way the connection allows:

- 2025-11-25 connections: pushed elicitation (``ctx.elicit``) while the call stays open;
- 2026-07-28 connections: the call *returns* an ``InputRequiredResult`` whose input requests
  are the approvals and whose request state (sealed by the SDK, so a client cannot forge it)
  names the run. The client answers and calls again; the re-call applies the answers to the
  same waiting run and follows it on. Nothing starts over.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import anyio
from mcp.types import (
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
)

from agent.approvals import ApprovalRequest, Decision
from server.errors import UserError
from server.output_caps import clip_value
from toolkits.tasks.models import ApprovalAnswer, RunReport
from toolkits.tasks.run_events import progress_message

if TYPE_CHECKING:
    from fastmcp import Context

    from toolkits.tasks.runs import Channel, LiveRun, RunManager

# A progress notification at least this often while a long tool call runs, so a host that
# times out quiet calls keeps waiting.
HEARTBEAT_S = 10.0
STATE_VERSION = 1


def can_elicit(ctx: Context) -> bool:
    try:
        capabilities = ctx.session.client_capabilities
    except RuntimeError:
        return False
    return capabilities is not None and capabilities.elicitation is not None


def is_sessionless(ctx: Context) -> bool:
    """A 2026-07-28 connection: no back-channel, so approvals travel as input requests."""
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    request = ctx.request_context
    return request is not None and request.protocol_version in MODERN_PROTOCOL_VERSIONS


def channel_for(ctx: Context, detach: bool) -> Channel:
    """Who can answer a new run's approvals while it works."""
    if detach:
        return "detached"  # whoever calls ml_task(action='approve')
    if not can_elicit(ctx):
        return "nobody"
    return "input_required" if is_sessionless(ctx) else "elicit"


def approval_message(task: str, request: ApprovalRequest) -> str:
    if request.kind == "budget":
        return f"The agent working on “{clip_value(task, 120)}” hit its cap: {request.reason}."
    args = clip_value(json.dumps(request.arguments, default=str), 600)
    return (
        f"The agent working on “{clip_value(task, 120)}” wants to call {request.tool} "
        f"({request.reason}).\nArguments: {args}\nApprove this call?"
    )


def answer_to_decision(answer: ApprovalAnswer | None, action: str) -> Decision:
    if action == "accept" and answer is not None and answer.approve:
        return Decision.approve()
    if action == "accept" and answer is not None:
        return Decision.deny(answer.feedback or "The user said no.")
    if action == "decline":
        return Decision.deny("The user declined this call.")
    return Decision.deny("The user dismissed the approval request without answering.")


class Follower:
    """Relays one run's events to one tool call as progress notifications."""

    def __init__(self, manager: RunManager, live: LiveRun, ctx: Context, since: int):
        self.manager = manager
        self.live = live
        self.ctx = ctx
        self.since = since
        self.sent = 0
        self.step: int | None = None

    async def _relay(self) -> None:
        for event in self.manager.store.events(self.live.run_id, since=self.since, limit=500):
            self.since = event.seq
            if event.kind == "iteration":
                self.step = event.data.get("iteration")
            await self._notify(progress_message(event.kind, event.summary, event.data, self.step))

    async def _notify(self, message: str) -> None:
        self.sent += 1
        await self.ctx.report_progress(self.sent, None, message)

    async def _wait(self, changed: asyncio.Event) -> None:
        with anyio.move_on_after(HEARTBEAT_S) as scope:
            await changed.wait()
        if scope.cancelled_caught:
            await self._notify(f"step {self.step or 0}: still working")

    async def run(self, *, sessionless: bool, elicit: bool) -> RunReport | InputRequiredResult:
        """Follow until the run ends (a report) or, sessionless, until it needs approvals."""
        asked: set[str] = set()
        while True:
            changed = self.live.changed()
            await self._relay()
            if self.live.ended:
                await self._relay()
                return self.manager.report(self.live.run_id)
            waiting = [r for r in self.live.pending() if r.call_id not in asked]
            if waiting and elicit and sessionless:
                self.manager.expire_unanswered(self.live, [r.call_id for r in waiting])
                return self.input_required(waiting)
            if waiting and elicit:
                for request in waiting:
                    asked.add(request.call_id)
                    self.manager.apply(self.live, request.call_id, await self._elicit(request))
                continue
            if not changed.is_set():
                await self._wait(changed)

    async def _elicit(self, request: ApprovalRequest) -> Decision:
        task = self.manager.store.get(self.live.run_id).task
        await self._notify(f"waiting for your approval of {request.tool}")
        try:
            answer = await self.ctx.elicit(approval_message(task, request), ApprovalAnswer)
        except Exception as exc:  # the host failed to ask: refusing is the safe answer
            return Decision.deny(f"The approval request could not be shown to the user ({exc}).")
        data = getattr(answer, "data", None)
        return answer_to_decision(data if isinstance(data, ApprovalAnswer) else None, answer.action)

    def input_required(self, waiting: list[ApprovalRequest]) -> InputRequiredResult:
        from fastmcp.server.elicitation import get_elicitation_schema

        task = self.manager.store.get(self.live.run_id).task
        schema = get_elicitation_schema(ApprovalAnswer)
        requests: dict[str, Any] = {
            r.call_id: ElicitRequest(
                params=ElicitRequestFormParams(
                    message=approval_message(task, r), requested_schema=schema
                )
            )
            for r in waiting
        }
        state = {"v": STATE_VERSION, "run_id": self.live.run_id, "since": self.since}
        return InputRequiredResult(input_requests=requests, request_state=json.dumps(state))


def parse_state(text: str) -> tuple[str, int]:
    """(run_id, event cursor) from a request state this server minted."""
    try:
        state = json.loads(text)
        return str(state["run_id"]), int(state["since"])
    except (ValueError, KeyError, TypeError):
        raise UserError(
            "This call carries a request state mlintern cannot read (from another version?). "
            "Call run_ml_task again without it, or follow the run with ml_task."
        ) from None


def decisions_from(responses: dict[str, Any] | None) -> dict[str, Decision]:
    decisions: dict[str, Decision] = {}
    for call_id, response in (responses or {}).items():
        if not isinstance(response, ElicitResult):  # the host failed to show the form
            decisions[call_id] = Decision.deny("The host could not show the approval request.")
            continue
        answer = None
        if response.action == "accept":
            try:
                answer = ApprovalAnswer.model_validate(response.content or {})
            except ValueError:
                answer = None
        decisions[call_id] = answer_to_decision(answer, response.action)
    return decisions
