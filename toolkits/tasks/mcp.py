"""MCP layer of the tasks toolkit (delegation): run_ml_task, ml_task and research, registered
without a prefix.

Building it imports neither litellm nor the agent: the run machinery is loaded on the first
call, and one RunManager per server keeps the runs this process drives.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import anyio
from fastmcp import Context, FastMCP
from mcp.types import InputRequiredResult
from pydantic import Field

from server.errors import UserError
from server.toolkit import Toolkit, ToolkitContext
from toolkits.tasks import core
from toolkits.tasks.models import (
    ApprovalDecisionInput,
    ApprovalMode,
    ResearchReport,
    RunReport,
    RunStatusView,
)

if TYPE_CHECKING:
    from toolkits.tasks.runs import LiveRun, RunManager

INSTRUCTIONS = (
    "Hand a whole ML task to mlintern's own agent (run_ml_task), follow and steer detached runs "
    "(ml_task: status, approve, cancel), or ask a read-only research sub-agent for a cited "
    "answer (research)."
)

RunId = Annotated[str, Field(min_length=1, max_length=64)]


async def _follow(
    manager: RunManager, live: LiveRun, ctx: Context, since: int
) -> RunReport | InputRequiredResult:
    """Stay on the run inside this call: its report, or the approvals it needs (2026-07-28)."""
    from toolkits.tasks.follow import Follower, can_elicit, is_sessionless

    follower = Follower(manager, live, ctx, since)
    result = await follower.run(sessionless=is_sessionless(ctx), elicit=can_elicit(ctx))
    return result if isinstance(result, InputRequiredResult) else core.fail_on_error(result)


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("tasks", ctx, INSTRUCTIONS, prefixed=False)
    managers: list[RunManager] = []
    lock = threading.Lock()  # status pages are read in a worker thread, the rest on the loop

    def runs() -> RunManager:
        # Created on first use: it loads the agent and reconciles runs a dead server left.
        with lock:
            if not managers:
                from toolkits.tasks.runs import RunManager

                managers.append(RunManager(ctx))
            return managers[0]

    @toolkit.tool(
        name="run_ml_task",
        title="Delegate an ML task to the agent",
        read_only=False,
        destructive=True,
        idempotent=False,
        open_world=True,
    )
    async def run_ml_task(
        ctx: Context,
        task: Annotated[
            str | None,
            Field(max_length=20_000, description="With paths, ids and what to report."),
        ] = None,
        model: Annotated[str | None, Field(max_length=200, description="litellm model id.")] = None,
        max_iterations: Annotated[int, Field(ge=1, le=500)] = 50,
        budget_usd: Annotated[float | None, Field(ge=0, le=100_000)] = None,
        toolsets: Annotated[
            list[Annotated[str, Field(max_length=32)]] | None, Field(max_length=32)
        ] = None,
        approval: ApprovalMode = "ask",
        detach: bool = False,
        resume: Annotated[str | None, Field(max_length=64, description="A run_id.")] = None,
    ) -> RunReport | InputRequiredResult:
        """Hand a whole ML task to mlintern's agent (it uses this server's tools) and get a
        report: findings, artifacts, cost. Paid or changing calls ask the user, or are
        refused. detach returns a run_id at once, for ml_task; resume=run_id continues a run
        (task: the follow-up)."""
        from toolkits.tasks import follow

        manager = runs()
        if ctx.request_state is not None:
            # A 2026-07-28 client answered this run's approvals and called again.
            run_id, since = follow.parse_state(ctx.request_state)
            live = manager.live.get(run_id)
            if live is None or live.ended:
                return core.fail_on_error(manager.report(run_id))
            for call_id, decision in follow.decisions_from(ctx.input_responses).items():
                manager.apply(live, call_id, decision)
            return await _follow(manager, live, ctx, since)

        live = await core.start_or_resume(
            manager,
            task,
            resume,
            toolsets,
            model=model,
            max_iterations=max_iterations,
            budget_usd=budget_usd,
            approval=approval,
            channel=follow.channel_for(ctx, detach),
        )
        if detach:
            return manager.report(live.run_id)
        return await _follow(manager, live, ctx, manager.store.get(live.run_id).last_seq)

    @toolkit.tool(
        name="ml_task",
        title="Follow or steer a delegated task",
        read_only=False,
        destructive=True,
        idempotent=False,
        open_world=True,
    )
    async def ml_task(
        run_id: RunId,
        action: core.RunAction = "status",
        since: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        decisions: Annotated[list[ApprovalDecisionInput], Field(max_length=20)] = [],  # noqa: B006 - pydantic copies defaults
    ) -> RunStatusView:
        """A detached run_ml_task run. status: its events after `since`, the approvals it
        waits for, its report once ended (poll every few seconds). approve: decide them (ask
        the user first). cancel: stop it (resume later; its jobs keep running)."""
        manager = runs()
        await core.act_on_run(manager, run_id, action, decisions)
        page = await anyio.to_thread.run_sync(
            lambda: core.status_page(manager, run_id, since, limit)
        )
        if action == "approve":
            core.fail_on_error(page)
        return page

    @toolkit.tool(
        name="research",
        title="Research a question (read-only sub-agent)",
        read_only=True,
        destructive=False,
        idempotent=False,
        open_world=True,
    )
    async def research(
        question: Annotated[str, Field(min_length=3, max_length=4_000)],
        ctx: Context,
        context: Annotated[
            str | None, Field(max_length=8_000, description="What you know, and why you ask.")
        ] = None,
        max_iterations: Annotated[int, Field(ge=1, le=100)] = 30,
    ) -> ResearchReport:
        """A read-only sub-agent reads papers, docs, Hub and GitHub and answers with
        citations, keeping its steps out of your context. For 'how do people fine-tune X',
        'which dataset for Z'."""
        from toolkits.tasks.research import research as run_research

        report = await run_research(toolkit.ctx, question, context, max_iterations, ctx)
        if report.ended == "error":
            raise UserError(f"The research sub-agent failed: {report.summary}")
        return report

    del run_ml_task, ml_task, research
    return toolkit.mcp
