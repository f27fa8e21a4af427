"""MCP layer of the experiments toolkit: a thin tool over each core function."""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastmcp import Context, FastMCP
from fastmcp.tools import ToolResult
from mcp.types import ImageContent, TextContent
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext
from toolkits.experiments import compare as compare_runs
from toolkits.experiments import core, journal
from toolkits.experiments import restart as restart_job
from toolkits.experiments.journal import JournalInput
from toolkits.experiments.views import (
    CheckView,
    ComparisonView,
    JournalView,
    MetricsView,
    RestartView,
)

INSTRUCTIONS = (
    "Read training metrics (TensorBoard, trackio, MLflow, W&B offline, JSONL/CSV, or a job_id), "
    "diagnose them and judge them against the user's preferences.md, plot and compare runs, "
    "restart a job with a changed config, and keep a journal of every decision."
)

T = TypeVar("T")

SourceId = Annotated[str, Field(min_length=1, max_length=1024)]
Source = Annotated[
    SourceId,
    Field(
        description="job_id, log dir or file, trackio:<project>[/<run>], mlruns/ or wandb/ "
        "('#<run>' picks one)"
    ),
]
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=256)]] | None,
    Field(max_length=50, description="Globs like 'val/*'."),
]
ConfigValue = (
    bool
    | Annotated[int, Field(ge=-(10**15), le=10**15)]
    | Annotated[float, Field(ge=-1e30, le=1e30)]
    | Annotated[str, Field(max_length=1000)]
    | Annotated[list[Annotated[float, Field(ge=-1e30, le=1e30)]], Field(max_length=64)]
    | None
)


async def _in_thread(ctx: Context, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work off the event loop, with a progress notification on each side."""
    await ctx.report_progress(0, 1, what)
    result = await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    await ctx.report_progress(1, 1, "done")
    return result


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("experiments", ctx, INSTRUCTIONS)
    settings = ctx.settings

    def store() -> Any:
        return toolkit.ctx.store  # opened on first use

    @toolkit.tool(
        name="metrics",
        title="Read (and plot) run metrics",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def metrics(
        source: Source,
        ctx: Context,
        tags: Tags = None,
        max_points: Annotated[int, Field(ge=10, le=2000)] = 200,
        since_step: Annotated[int | None, Field(ge=0, le=10**15)] = None,
        tag_offset: Annotated[int, Field(ge=0, le=100_000)] = 0,
        plot: bool = False,
    ) -> MetricsView:
        """A run's scalar metrics without raw logs: per tag (20 per call) last, min, max,
        best, trend, NaN/Inf counts, steps/s and a downsampled series with spikes kept.
        Polling is cheap (only new data is read). plot=true adds a PNG chart to show a
        person."""
        report = await _in_thread(
            ctx,
            f"reading {source}",
            core.metrics,
            settings,
            store(),
            source,
            tags,
            max_points,
            since_step,
            tag_offset,
        )
        view = MetricsView(**dict(report))
        if not plot:
            return view
        png, view.plot = await _in_thread(
            ctx, f"plotting {source}", core.plot, settings, store(), source, tags
        )
        return ToolResult(  # type: ignore[return-value]  # image + text; schema is MetricsView's
            content=[
                ImageContent(
                    type="image", data=base64.b64encode(png).decode(), mime_type="image/png"
                ),
                TextContent(type="text", text=view.render()),
            ],
            structured_content=view.model_dump(mode="json"),
        )

    @toolkit.tool(
        name="check",
        title="Judge a run against preferences",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def check(
        source: Source,
        ctx: Context,
        preferences: Annotated[
            str | None,
            Field(min_length=1, max_length=100_000, description="Path or text."),
        ] = None,
    ) -> CheckView:
        """Judge a run: each metric's state (plateaued, diverging, nan, overfitting, ...)
        with evidence and a next action; with the user's preferences.md (yaml: metrics,
        thresholds, rules), the verdicts, rules fired and the exact call to apply."""
        report = await _in_thread(
            ctx, f"checking {source}", core.check, settings, store(), source, preferences
        )
        return CheckView(**dict(report))

    @toolkit.tool(
        name="compare",
        title="Compare runs",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def compare(
        sources: Annotated[
            list[SourceId],
            Field(
                min_length=1,
                max_length=8,
                description="2-8 sources, or one restarted job_id: its chain and what each "
                "restart gained.",
            ),
        ],
        ctx: Context,
        tags: Tags = None,
    ) -> ComparisonView:
        """Runs side by side: last and best value of each tag per run, the best run, and the
        config keys whose values differ."""
        result = await _in_thread(
            ctx, "comparing runs", compare_runs.compare, settings, store(), sources, tags
        )
        return ComparisonView(**dict(result))

    @toolkit.tool(
        name="restart",
        title="Restart a job with a changed config",
        read_only=False,
        destructive=True,
        idempotent=False,
        open_world=True,
    )
    async def restart(
        job_id: Annotated[str, Field(min_length=1, max_length=64)],
        reason: Annotated[str, Field(min_length=1, max_length=2000, description="With numbers.")],
        ctx: Context,
        config_changes: Annotated[
            dict[Annotated[str, Field(max_length=200)], ConfigValue],
            Field(max_length=50, description="e.g. {'optimizer.lr': 3e-4}"),
        ] = {},  # noqa: B006 - pydantic copies defaults
        experiment: Annotated[str | None, Field(max_length=64, description="Journal name.")] = None,
        allow_new_keys: bool = False,
        stop_old_job: bool = True,
    ) -> RestartView:
        """Rerun a job with config_changes written into a copy of its YAML/JSON config,
        stop the old one and journal both. Use the call experiments_check suggests. Paid on
        hf."""
        result = await _in_thread(
            ctx,
            f"restarting {job_id}",
            restart_job.restart,
            settings,
            store(),
            job_id,
            dict(config_changes),
            reason,
            experiment,
            allow_new_keys,
            stop_old_job,
        )
        return RestartView(**dict(result))

    @toolkit.tool(
        name="journal",
        title="Experiment journal",
        read_only=False,
        destructive=False,
        idempotent=False,
        open_world=False,
    )
    async def journal_tool(
        experiment: Annotated[str, Field(min_length=1, max_length=64)],
        ctx: Context,
        action: Literal["read", "append"] = "read",
        entry: JournalInput | None = None,
        offset: Annotated[int | None, Field(ge=0, le=1_000_000)] = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 20,
    ) -> JournalView:
        """An experiment's journal (also a Markdown file): append after each decision about
        a run; read to recall what was tried."""
        page = await _in_thread(
            ctx,
            f"journal {action}",
            journal.read_or_append,
            settings,
            store(),
            experiment,
            action,
            entry,
            offset,
            limit,
        )
        return JournalView(**dict(page))

    del metrics, check, compare, restart, journal_tool
    return toolkit.mcp
