"""Delegated agent runs inside the server: start, decide approvals, cancel, resume, report.

A run is an asyncio task in the server's event loop driving the bundled agent. Its row and event
log live in the state store, so ml_task works from any call, and a run whose process died
is found (by its owner's pid and start time) and marked ``interrupted``; ``resume`` reopens its
saved session in this process. Approvals asked while someone can answer go through
``PendingApprovals``: the run waits on the request until a host's elicitation answer or an
ml_task(action='approve') call decides it. Imported only when a delegation tool runs (it loads the agent).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from agent.approvals import ApprovalRequest, Approver, Decision, PendingApprovals, approve_all
from agent.sessions import SessionStore
from server.errors import UserError
from server.toolkit import ToolkitContext
from toolkits.tasks import agent_setup, reports
from toolkits.tasks.models import ApprovalDecisionInput, ApprovalMode, RunReport
from toolkits.tasks.run_events import event_record, notify_approvals
from toolkits.tasks.statuses import LIVE_STATUSES
from toolkits.tasks.store import RunStore, process_alive

log = logging.getLogger(__name__)

# Who can answer this run's approval requests while it works.
Channel = Literal["elicit", "input_required", "detached", "nobody"]

NO_ELICITATION = (
    "Refused: the host that delegated this task cannot ask its user for approval (it does not "
    "support elicitation), and this server does not allow unattended mutating calls. Do not "
    "retry it: finish what you can with read-only tools and say in your answer what you would "
    "have done. The user can rerun with run_ml_task(detach=True) and approve via "
    "ml_task(action='approve')."
)
DENY_MODE = (
    "Refused: the task was delegated with approval='deny', so no call that changes anything "
    "outside bookkeeping may run. Say in your answer what you would have done instead."
)


def _refuse(reason: str) -> Approver:
    async def refuse(request: ApprovalRequest) -> Decision:
        if request.kind == "budget":
            return Decision.deny("the spending cap is reached and nobody can raise it")
        return Decision.deny(reason)

    return refuse


class LiveRun:
    """A run this process drives right now."""

    def __init__(self, manager: RunManager, run_id: str, secrets: tuple[str, ...]):
        self.manager = manager
        self.run_id = run_id
        self.secrets = secrets
        self.broker = PendingApprovals(on_request=lambda _request: manager.save_pending(self))
        self.agent: Any = None
        self.task: asyncio.Task[None] | None = None
        self.cancel_requested = False
        self.ended = False
        # Decided requests stay in the broker until the run's coroutine wakes up to take them.
        self.decided: set[str] = set()
        self._changed = asyncio.Event()

    def changed(self) -> asyncio.Event:
        """An event set at the next change; take it *before* looking at the state."""
        return self._changed

    def pulse(self) -> None:
        previous, self._changed = self._changed, asyncio.Event()
        previous.set()

    async def sink(self, event: Any) -> None:
        record = event_record(event, self.secrets)
        if record is None:
            return
        kind, summary, data = record
        # Awaited one by one, so the log keeps the order the agent emitted them in.
        await asyncio.to_thread(
            self.manager.store.add_event, self.run_id, kind, summary, data, event.at
        )
        self.pulse()

    def pending(self) -> list[ApprovalRequest]:
        return [r for r in self.broker.pending if r.call_id not in self.decided]

    def cost_usd(self) -> float:
        return float(self.agent.spending.total_usd) if self.agent is not None else 0.0


class RunManager:
    def __init__(self, ctx: ToolkitContext):
        self.ctx = ctx
        self.store = RunStore(ctx.store)
        self.live: dict[str, LiveRun] = {}
        # A server that starts finds the runs its dead predecessor was driving.
        self.store.mark_orphans_interrupted()

    # --- starting -------------------------------------------------------------------------
    def _check_capacity(self) -> None:
        running = [run_id for run_id, live in self.live.items() if not live.ended]
        if len(running) >= self.ctx.settings.tasks_max_running:
            raise UserError(
                f"{len(running)} delegated runs are already working ({', '.join(running)}), the "
                "limit (MLINTERN_TASKS_MAX_RUNNING). Wait for one (ml_task) or stop one "
                "(ml_task(action='cancel'))."
            )

    def _check_approval(self, approval: ApprovalMode, config: Any) -> None:
        if approval == "yolo" and not agent_setup.yolo_allowed(self.ctx, config):
            raise UserError(
                "approval='yolo' is not allowed by this server: the operator must set "
                "MLINTERN_TASKS_ALLOW_YOLO=true (or approvals.mode 'yolo' in the agent "
                "config). Use approval='ask' and approve the calls that need it."
            )

    def _approver(
        self, live: LiveRun, approval: ApprovalMode, channel: Channel, yolo_ok: bool
    ) -> tuple[Literal["ask", "yolo"], Approver]:
        """(approvals mode for the agent's policy, who answers what the policy asks)."""
        if approval == "yolo":
            return "yolo", approve_all
        if approval == "deny":
            return "ask", _refuse(DENY_MODE)
        if channel == "nobody":
            return ("yolo", approve_all) if yolo_ok else ("ask", _refuse(NO_ELICITATION))
        return "ask", live.broker

    async def start(
        self,
        task: str,
        *,
        model: str | None,
        max_iterations: int,
        budget_usd: float | None,
        toolsets: list[str] | None,
        approval: ApprovalMode,
        channel: Channel,
    ) -> LiveRun:
        self._check_capacity()
        config = agent_setup.load_run_config(
            self.ctx, model=model, max_iterations=max_iterations, budget_usd=budget_usd
        )
        chosen = agent_setup.choose_toolsets(self.ctx, toolsets, config)
        self._check_approval(approval, config)
        params = {
            "model": config.model,
            "max_iterations": max_iterations,
            "budget_usd": budget_usd,
            "toolsets": chosen,
            "approval": approval,
        }
        record = self.store.create("task", task, params)
        return self._launch(record.run_id, config, chosen, approval, channel, task, None)

    async def resume(
        self,
        run_id: str,
        task: str | None,
        *,
        model: str | None,
        max_iterations: int,
        budget_usd: float | None,
        approval: ApprovalMode,
        channel: Channel,
    ) -> LiveRun:
        record = self.store.get(run_id)
        if run_id in self.live:
            raise UserError(
                f"Run {run_id} is still working; follow it with ml_task(run_id='{run_id}')."
            )
        if record.status in LIVE_STATUSES and process_alive(record.owner or ""):
            raise UserError(
                f"Run {run_id} is being driven by another mlintern server process "
                f"({record.owner}); follow or cancel it there."
            )
        if record.session_id is None:
            raise UserError(
                f"Run {run_id} failed before its session was saved, so there is nothing to "
                "resume; start a new run with run_ml_task(task=...)."
            )
        if task is None and not self._has_work_left(record.session_id):
            raise UserError(
                f"Run {run_id} finished its task ({record.status}); pass task='...' to give it "
                "a follow-up."
            )
        self._check_capacity()
        params = dict(record.params)
        params.update(max_iterations=max_iterations, approval=approval)
        if budget_usd is not None:
            params["budget_usd"] = budget_usd
        if model is not None:
            params["model"] = model
        config = agent_setup.load_run_config(
            self.ctx,
            model=params.get("model"),
            max_iterations=max_iterations,
            budget_usd=params.get("budget_usd"),
        )
        self._check_approval(approval, config)
        self.store.claim(run_id)
        self.store.update(run_id, params=params)
        chosen = list(params.get("toolsets") or [])
        return self._launch(run_id, config, chosen, approval, channel, task, record.session_id)

    def _has_work_left(self, session_id: str) -> bool:
        messages = SessionStore(self.ctx.settings.home).load(session_id).messages
        if not messages:
            return False
        last = messages[-1]
        return last.get("role") != "assistant" or bool(last.get("tool_calls"))

    def _launch(
        self,
        run_id: str,
        config: Any,
        toolsets: list[str],
        approval: ApprovalMode,
        channel: Channel,
        message: str | None,
        session_id: str | None,
    ) -> LiveRun:
        live = LiveRun(self, run_id, tuple(config.secrets()))
        yolo_ok = agent_setup.yolo_allowed(self.ctx, config)
        config.approvals.mode, approver = self._approver(live, approval, channel, yolo_ok)
        self.live[run_id] = live
        live.task = asyncio.create_task(
            self._drive(live, config, toolsets, approver, message, session_id),
            name=f"mlintern-run-{run_id}",
        )
        return live

    # --- driving --------------------------------------------------------------------------
    async def _drive(
        self,
        live: LiveRun,
        config: Any,
        toolsets: list[str],
        approver: Approver,
        message: str | None,
        session_id: str | None,
    ) -> None:
        from agent.runtime import open_agent

        run_id = live.run_id
        try:
            bundled = None
            if toolsets:  # building imports the toolkits: keep the event loop free meanwhile
                bundled = await asyncio.to_thread(agent_setup.inner_server, self.ctx, toolsets)
            config.bundled.enabled = bundled is not None
            async with open_agent(
                config,
                settings=self.ctx.settings,
                emit=live.sink,
                approver=approver,
                resume=session_id,
                bundled=bundled,
            ) as agent:
                live.agent = agent
                self.store.update(run_id, session_id=agent.session_id)
                result = await agent.run(message)
            outcome = {
                "reason": result.reason,
                "final_text": result.final_text,
                "iterations": result.iterations,
                "cost_usd": result.cost_usd,
            }
            status = result.reason if result.reason != "awaiting_approval" else "interrupted"
            self.store.update(run_id, status=status, pending=[], result=outcome)
        except asyncio.CancelledError:
            if live.cancel_requested:
                self.store.update(run_id, status="cancelled", pending=[], result=self._ended(live))
            else:  # the server is shutting down: the run can be resumed later
                self.store.update(run_id, status="interrupted", pending=[])
                raise
        except UserError as exc:  # an MCP server in the config is unreachable, a bad model ...
            await self._record_error(live, str(exc))
        except Exception as exc:
            log.exception("delegated run %s failed", run_id)
            await self._record_error(live, f"internal error (a bug, logged on the server): {exc!r}")
        finally:
            live.ended = True
            self.live.pop(run_id, None)
            live.pulse()

    def _ended(self, live: LiveRun, reason: str = "cancelled", text: str = "") -> dict[str, Any]:
        iterations = live.agent.iterations if live.agent is not None else 0
        return {
            "reason": reason,
            "final_text": text or "Cancelled.",
            "iterations": iterations,
            "cost_usd": live.cost_usd(),
        }

    async def _record_error(self, live: LiveRun, message: str) -> None:
        self.store.add_event(live.run_id, "error", f"error: {message[:280]}", {}, _now())
        self.store.update(
            live.run_id, status="error", pending=[], result=self._ended(live, "error", message)
        )

    # --- approvals and cancelling ---------------------------------------------------------
    def save_pending(self, live: LiveRun) -> None:
        waiting = [r.model_dump() for r in live.pending()]
        status = "awaiting_approval" if waiting else "running"
        self.store.update(live.run_id, status=status, pending=waiting)
        live.pulse()
        notify_approvals(self.ctx.settings, self.ctx.store, live.run_id, live.pending())

    def _live_or_explain(self, run_id: str, doing: str) -> LiveRun:
        live = self.live.get(run_id)
        if live is not None and not live.ended:
            return live
        record = self.store.get(run_id)
        if record.status in LIVE_STATUSES and process_alive(record.owner or ""):
            raise UserError(
                f"Run {run_id} is driven by another mlintern server process ({record.owner}); "
                f"{doing} it there."
            )
        raise UserError(
            f"Run {run_id} is not working right now ({record.status}), so there is nothing to "
            f"{doing}. {reports.next_step(record.run_id, record.status)}"
        )

    def decide(self, run_id: str, decisions: list[ApprovalDecisionInput]) -> None:
        live = self._live_or_explain(run_id, "approve")
        waiting = {request.call_id for request in live.pending()}
        unknown = [d.call_id for d in decisions if d.call_id not in waiting]
        if unknown:
            raise UserError(
                f"Run {run_id} is not waiting for {', '.join(unknown)}. Pending: "
                f"{', '.join(sorted(waiting)) or 'nothing'} (see ml_task(run_id, action='status'))."
            )
        for choice in decisions:
            self.apply(live, choice.call_id, _decision(choice))

    def apply(self, live: LiveRun, call_id: str, decision: Decision) -> bool:
        decided = live.broker.decide(call_id, decision)
        if decided:
            live.decided.add(call_id)
            self.save_pending(live)
        return decided

    def expire_unanswered(self, live: LiveRun, call_ids: list[str]) -> None:
        """Refuse these approvals if they are still open when the sealed state expires.

        A 2026-07-28 host that got an input-required result and never called back would
        otherwise hold the run (and a MLINTERN_TASKS_MAX_RUNNING slot) forever; past the TTL
        its answer could not be accepted anyway.
        """
        ttl = self.ctx.settings.approval_ttl_s

        def expire() -> None:
            open_ids = {request.call_id for request in live.pending()}
            for call_id in call_ids:
                if call_id in open_ids and not live.ended:
                    reason = f"Nobody answered the approval request within {ttl:g} s."
                    self.apply(live, call_id, Decision.deny(reason))

        asyncio.get_running_loop().call_later(ttl, expire)

    async def cancel(self, run_id: str) -> None:
        live = self.live.get(run_id)
        if live is None or live.ended:
            record = self.store.get(run_id)
            if record.status in LIVE_STATUSES and process_alive(record.owner or ""):
                self._live_or_explain(run_id, "cancel")
            if record.status == "interrupted":
                self.store.update(run_id, status="cancelled")
            return  # already over: cancelling again changes nothing
        live.cancel_requested = True
        if live.agent is None or not live.agent.cancel():
            assert live.task is not None
            live.task.cancel()  # still connecting: stop the whole task
        if live.task is not None:
            await asyncio.wait({live.task}, timeout=30)

    # --- reading --------------------------------------------------------------------------
    def report(self, run_id: str) -> RunReport:
        return reports.build_report(self, run_id)


def _decision(choice: ApprovalDecisionInput) -> Decision:
    return Decision(
        action=choice.action,
        always=choice.always,
        feedback=choice.feedback,
        new_budget_usd=choice.new_budget_usd,
    )


def _now() -> float:
    import time

    return time.time()
