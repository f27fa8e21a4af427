"""A run's report and status page, assembled from its row, its event log and (while it works)
the live agent. Works for runs of any process, live or long finished."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from server.errors import NotFoundError
from server.output_caps import clip_value
from toolkits.tasks.artifacts import Artifacts, collect_artifacts, collect_declined
from toolkits.tasks.models import EventLine, PendingApproval, RunReport, RunStatusView
from toolkits.tasks.statuses import LIVE_STATUSES, RUN_STATUSES

if TYPE_CHECKING:
    from toolkits.tasks.runs import RunManager

REPORT_KINDS = ("iteration", "tool_call", "tool_output", "approval_decided")
# Bounds on what a report carries, whatever a long run produced.
MAX_SUMMARY_CHARS = 12_000
MAX_LISTED = 50
MAX_CHAINS = 5  # restart chains summed up in a final report (each reads its runs' metrics)


def next_step(run_id: str, status: str) -> str:
    follow = f"ml_task(run_id='{run_id}', since=N)"
    cancel = f"ml_task(run_id='{run_id}', action='cancel')"
    return {
        "running": f"Still working. Follow it with {follow}; stop it with {cancel}.",
        "awaiting_approval": (
            f"Waiting for approval: decide with ml_task(run_id='{run_id}', action='approve', "
            f"decisions=[{{call_id, action}}]), or stop it with {cancel}."
        ),
        "completed": f"Done. Give it a follow-up with run_ml_task(resume='{run_id}', task=...).",
        "max_iterations": (
            f"Stopped at its iteration cap. Continue with run_ml_task(resume='{run_id}', "
            "max_iterations=...)."
        ),
        "budget": (
            f"Stopped at the spending cap. Continue with run_ml_task(resume='{run_id}', "
            "budget_usd=<higher cap>)."
        ),
        "stuck": (
            f"Stopped: the model kept repeating itself (see the summary). Continue with "
            f"run_ml_task(resume='{run_id}', model=<another model>) or a sharper task."
        ),
        "cancelled": f"Cancelled. Continue it anyway with run_ml_task(resume='{run_id}').",
        "error": f"Failed (see the summary). Fix the cause, then run_ml_task(resume='{run_id}').",
        "interrupted": (
            f"The server stopped while this run was working. Continue it from its saved "
            f"session with run_ml_task(resume='{run_id}')."
        ),
    }.get(status, f"Look at it with {follow}.")


def build_report(manager: RunManager, run_id: str) -> RunReport:
    record = manager.store.get(run_id)
    live = manager.live.get(run_id)
    events = manager.store.events_of(run_id, REPORT_KINDS)
    result = record.result or {}
    if live is not None and not live.ended:
        pending = [PendingApproval.model_validate(r.model_dump()) for r in live.pending()]
        cost = live.cost_usd()
        status = "awaiting_approval" if pending else "running"
    else:
        pending = [PendingApproval.model_validate(p) for p in record.pending]
        cost = float(result.get("cost_usd") or 0.0)
        status = record.status
    iterations = sum(1 for e in events if e.kind == "iteration")
    artifacts = _bounded(collect_artifacts(events))
    return RunReport(
        run_id=run_id,
        status=status if status in RUN_STATUSES else "error",  # type: ignore[arg-type]
        task=clip_value(" ".join(record.task.split()), 300),
        summary=clip_value(result["final_text"], MAX_SUMMARY_CHARS)
        if result.get("final_text")
        else None,
        artifacts=artifacts,
        interventions=[] if status in LIVE_STATUSES else interventions(manager, artifacts.job_ids),
        declined=collect_declined(events)[-MAX_LISTED:],
        pending=pending,
        cost_usd=round(cost, 6),
        iterations=max(iterations, int(result.get("iterations") or 0)),
        model=record.params.get("model"),
        session_id=record.session_id,
        hint=next_step(run_id, status),
    )


def interventions(manager: RunManager, job_ids: list[str]) -> list[str]:
    """One line per restart chain among the run's jobs: what its restarts gained."""
    try:
        from toolkits.experiments.gains import gains_so_far
        from toolkits.jobs.chains import chain_of
    except ImportError:  # a server without the experiments toolkit's extras
        return []
    settings, store = manager.ctx.settings, manager.ctx.store
    lines, seen = [], set()
    for job_id in job_ids:
        try:
            chain = chain_of(store, job_id).job_ids
        except (NotFoundError, sqlite3.OperationalError):  # gone, or no jobs table here
            continue
        if len(chain) < 2 or chain[0] in seen or len(seen) >= MAX_CHAINS:
            continue
        seen.add(chain[0])
        gains = gains_so_far(settings, store, chain[-1])
        lines += [gains.line()] if gains else []
    return lines


def _bounded(artifacts: Artifacts) -> Artifacts:
    return Artifacts.model_validate(
        {kind: values[-MAX_LISTED:] for kind, values in artifacts.model_dump().items()}
    )


def build_status(manager: RunManager, run_id: str, since: int, limit: int) -> RunStatusView:
    report = build_report(manager, run_id)
    page = manager.store.events(run_id, since=since, limit=limit + 1)
    shown = page[:limit]
    return RunStatusView(
        **report.model_dump(),
        events=[EventLine(seq=e.seq, at=e.at, kind=e.kind, summary=e.summary) for e in shown],
        next_since=shown[-1].seq if shown else since,
        more_events=len(page) > limit,
    )
