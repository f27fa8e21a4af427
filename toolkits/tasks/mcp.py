"""MCP layer of the delegation toolkit: run_ml_task, ml_task_status, ml_task_approve,
ml_task_cancel and research (registered without a prefix).

Building it imports neither litellm nor the agent: the run machinery is loaded on the first
call, and one RunManager per server keeps the runs this process drives.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

from fastmcp import Context, FastMCP
from mcp.types import InputRequiredResult
from pydantic import Field

from server.errors import UserError
from server.toolkit import Toolkit, ToolkitContext
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
    "(ml_task_status, ml_task_approve, ml_task_cancel), or ask a read-only research sub-agent "
    "for a cited answer (research)."
)

RunId = Annotated[
    str, Field(min_length=1, max_length=64, description="The run_id run_ml_task returned.")
]


def _fail_on_error(report: RunReport) -> RunReport:
    if report.status == "error":
        raise UserError(f"Run {report.run_id} failed: {report.summary}. {report.hint}")
    return report


async def _follow(
    manager: RunManager, live: LiveRun, ctx: Context, since: int
) -> RunReport | InputRequiredResult:
    """Stay on the run inside this call: its report, or the approvals it needs (2026-07-28)."""
    from toolkits.tasks.follow import Follower, can_elicit, is_sessionless

    follower = Follower(manager, live, ctx, since)
    result = await follower.run(sessionless=is_sessionless(ctx), elicit=can_elicit(ctx))
    return result if isinstance(result, InputRequiredResult) else _fail_on_error(result)


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("agent", ctx, INSTRUCTIONS, prefixed=False)
    managers: list[RunManager] = []
    lock = threading.Lock()  # ml_task_status runs in a worker thread, the others on the loop

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
            Field(
                max_length=20_000,
                description="The whole task in plain words, with paths, ids and what to report. "
                "Optional with resume (then it is a follow-up message).",
            ),
        ] = None,
        model: Annotated[
            str | None,
            Field(
                max_length=200,
                description="litellm model id, e.g. anthropic/claude-sonnet-4-5. Default: the "
                "server's agent model (or, on resume, the run's).",
            ),
        ] = None,
        max_iterations: Annotated[
            int, Field(ge=1, le=500, description="Cap on the agent's model calls.")
        ] = 50,
        budget_usd: Annotated[
            float | None,
            Field(ge=0, le=100_000, description="Spending cap: LLM cost plus paid-job estimates."),
        ] = None,
        toolsets: Annotated[
            list[Annotated[str, Field(max_length=32)]] | None,
            Field(max_length=32, description="Only these toolkits, e.g. ['jobs','experiments']."),
        ] = None,
        approval: Annotated[
            ApprovalMode,
            Field(
                description="ask (default): calls that change things or cost money wait for the "
                "user; deny: refuse them; yolo: allow them (only if the operator allows it)."
            ),
        ] = "ask",
        detach: Annotated[
            bool,
            Field(description="Return a run_id at once; follow it with ml_task_status."),
        ] = False,
        resume: Annotated[
            str | None,
            Field(max_length=64, description="A run_id to continue from its saved session."),
        ] = None,
    ) -> RunReport | InputRequiredResult:
        """Hand a whole ML task to mlintern's agent and get a report back: what it found and
        did, artifacts (job ids, Hub repos, files, plots, journals), cost, steps, and how it
        ended. The agent uses this server's tools (papers, datasets, sandbox, jobs, experiment
        monitoring, ...) step by step; you get a progress notification per step. Calls that
        change things or cost money are shown to the user for approval when your client supports
        elicitation; otherwise they are refused (the report says which). Use detach=True for
        long tasks or clients that time out: it returns a run_id at once, then use
        ml_task_status / ml_task_approve / ml_task_cancel. resume=run_id continues a run that was
        interrupted, stopped at a cap, or finished (with task= as the follow-up).
        """
        from toolkits.tasks import follow

        manager = runs()
        if ctx.request_state is not None:
            # A 2026-07-28 client answered this run's approvals and called again.
            run_id, since = follow.parse_state(ctx.request_state)
            live = manager.live.get(run_id)
            if live is None or live.ended:
                return _fail_on_error(manager.report(run_id))
            for call_id, decision in follow.decisions_from(ctx.input_responses).items():
                manager.apply(live, call_id, decision)
            return await _follow(manager, live, ctx, since)

        channel = follow.channel_for(ctx, detach)
        if resume is not None:
            live = await manager.resume(
                resume,
                task,
                model=model,
                max_iterations=max_iterations,
                budget_usd=budget_usd,
                approval=approval,
                channel=channel,
            )
        elif task is None or not task.strip():
            raise UserError("Give the task to do (task='...'), or resume='<run_id>' to continue.")
        else:
            live = await manager.start(
                task,
                model=model,
                max_iterations=max_iterations,
                budget_usd=budget_usd,
                toolsets=toolsets,
                approval=approval,
                channel=channel,
            )
        if detach:
            return manager.report(live.run_id)
        return await _follow(manager, live, ctx, manager.store.get(live.run_id).last_seq)

    @toolkit.tool(
        name="ml_task_status",
        title="Status of a delegated task",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    def ml_task_status(
        run_id: RunId,
        since: Annotated[
            int, Field(ge=0, le=10_000_000, description="Only events after this number.")
        ] = 0,
        limit: Annotated[int, Field(ge=1, le=200, description="Events to return.")] = 50,
    ) -> RunStatusView:
        """Where a run_ml_task run stands: its new events since `since` (steps, tool calls,
        results, approvals), the approvals it waits for (with call_ids for ml_task_approve), and
        when it has ended its report (summary, artifacts, cost). Poll with the returned
        next_since; a few seconds between polls is plenty.
        """
        from toolkits.tasks.reports import build_status

        return build_status(runs(), run_id, since, limit)

    @toolkit.tool(
        name="ml_task_approve",
        title="Approve or refuse a delegated task's calls",
        read_only=False,
        destructive=True,
        idempotent=False,
        open_world=True,
    )
    async def ml_task_approve(
        run_id: RunId,
        decisions: Annotated[
            list[ApprovalDecisionInput],
            Field(min_length=1, max_length=20, description="One decision per pending call_id."),
        ],
    ) -> RunReport:
        """Decide the approvals a run waits for (ml_task_status lists them with their call_ids):
        approve lets the agent make that call (it may change things or cost money); deny
        refuses it, and the feedback tells the agent why or what to do instead. Ask the user
        before approving. Returns the run's state; the run continues at once.
        """
        manager = runs()
        manager.decide(run_id, decisions)
        return _fail_on_error(manager.report(run_id))

    @toolkit.tool(
        name="ml_task_cancel",
        title="Stop a delegated task",
        read_only=False,
        destructive=True,
        idempotent=True,
        open_world=False,
    )
    async def ml_task_cancel(run_id: RunId) -> RunReport:
        """Stop a run_ml_task run: its current step is cut short (calls in flight get a
        'cancelled' result; jobs it launched keep running: cancel them with jobs_cancel), its
        session is kept, and it can be continued later with run_ml_task(resume=run_id).
        Cancelling a run that has already ended changes nothing.
        """
        manager = runs()
        await manager.cancel(run_id)
        return manager.report(run_id)

    @toolkit.tool(
        name="research",
        title="Research a question (read-only sub-agent)",
        read_only=True,
        destructive=False,
        idempotent=False,
        open_world=True,
    )
    async def research(
        question: Annotated[
            str, Field(min_length=3, max_length=4_000, description="What to find out.")
        ],
        ctx: Context,
        context: Annotated[
            str | None,
            Field(max_length=8_000, description="What you already know or need it for."),
        ] = None,
        max_iterations: Annotated[
            int, Field(ge=1, le=100, description="Cap on the sub-agent's model calls.")
        ] = 30,
    ) -> ResearchReport:
        """Ask a research sub-agent, which reads papers, Hugging Face docs, Hub models and
        datasets and GitHub examples with read-only tools, for a cited answer: paper → result
        → dataset → recipe, plus the list of sources it read. Its intermediate steps stay out of
        your context; only the summary comes back. Use it for 'how do people fine-tune X',
        'what recipe does paper Y use', 'which dataset for Z'.
        """
        from toolkits.tasks.research import research as run_research

        report = await run_research(toolkit.ctx, question, context, max_iterations, ctx)
        if report.ended == "error":
            raise UserError(f"The research sub-agent failed: {report.summary}")
        return report

    del run_ml_task, ml_task_status, ml_task_approve, ml_task_cancel, research
    return toolkit.mcp
