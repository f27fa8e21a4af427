"""The delegation toolkit's operations as plain functions over a RunManager (no MCP here).

``RunManager`` (toolkits/tasks/runs.py) loads the agent, so this module imports it only for
types; the server builds the tools without loading either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from server.errors import UserError
from toolkits.tasks.models import ApprovalDecisionInput, RunReport, RunStatusView

if TYPE_CHECKING:
    from toolkits.tasks.runs import LiveRun, RunManager

RunAction = Literal["status", "approve", "cancel"]


def fail_on_error(report: RunReport) -> RunReport:
    """The report, unless the run failed: then a UserError with its summary and next step."""
    if report.status == "error":
        raise UserError(f"Run {report.run_id} failed: {report.summary}. {report.hint}")
    return report


async def start_or_resume(
    manager: RunManager,
    task: str | None,
    resume: str | None,
    toolsets: list[str] | None,
    **options: Any,
) -> LiveRun:
    """A new run of ``task`` over ``toolsets``, or run ``resume`` continued (``task`` is then a
    follow-up; it keeps its toolsets). ``options`` (model, max_iterations, budget_usd,
    approval, channel) go to RunManager.start or .resume as they are.

    Raises UserError with neither a task nor a run to resume, or when the run cannot start
    (too many running, unknown run_id, a run still working)."""
    if resume is not None:
        return await manager.resume(resume, task, **options)
    if task is None or not task.strip():
        raise UserError("Give the task to do (task='...'), or resume='<run_id>' to continue.")
    return await manager.start(task, toolsets=toolsets, **options)


async def act_on_run(
    manager: RunManager,
    run_id: str,
    action: RunAction,
    decisions: list[ApprovalDecisionInput],
) -> None:
    """Apply ``action`` to a run: ``approve`` decides its pending calls, ``cancel`` stops its
    current step (its session is kept), ``status`` changes nothing.

    Raises NotFoundError for an unknown run, UserError for decisions that do not match what the
    run waits for, or decisions given with another action."""
    if action != "approve" and decisions:
        raise UserError(f"decisions are only read with action='approve', not {action!r}.")
    if action == "approve":
        if not decisions:
            raise UserError(
                "action='approve' needs decisions=[{call_id, action: 'approve'|'deny'}]; "
                "ml_task(run_id, action='status') lists the pending call_ids."
            )
        manager.decide(run_id, decisions)
    elif action == "cancel":
        await manager.cancel(run_id)


def status_page(manager: RunManager, run_id: str, since: int, limit: int) -> RunStatusView:
    """The run's report with its events after ``since`` (at most ``limit``)."""
    from toolkits.tasks.reports import build_status

    return build_status(manager, run_id, since, limit)
