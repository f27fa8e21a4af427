"""MCP layer of the experiments toolkit: schemas, annotations, progress, rendering."""

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

from server.errors import UserError
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
    PlotView,
    RestartView,
)

INSTRUCTIONS = (
    "Read training metrics (TensorBoard, trackio, MLflow, W&B offline, JSONL/CSV, or a job_id), "
    "diagnose them and judge them against "
    "the user's preferences.md, plot and compare runs, restart a job with a changed config, "
    "and keep a journal of every decision."
)

T = TypeVar("T")

Source = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        description="A job_id, a TensorBoard log dir or event file, a .jsonl/.csv metrics file, "
        "'trackio:<project>[/<run>]', an MLflow mlruns/ dir or mlflow.db, or a W&B wandb/ "
        "offline dir (newest run; '<path>#<run>' names one).",
    ),
]
Tags = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=256)]] | None,
    Field(
        max_length=50,
        description="Tags to include, by name or glob (e.g. 'val/*'). Default: all tags.",
    ),
]
Experiment = Annotated[
    str,
    Field(min_length=1, max_length=64, description="Experiment name (letters, digits, . _ -)."),
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

    @toolkit.tool(
        name="metrics",
        title="Read run metrics",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def metrics(
        source: Source,
        ctx: Context,
        tags: Tags = None,
        max_points: Annotated[
            int,
            Field(
                ge=10,
                le=2000,
                description="Points per tag in the downsampled series (spikes and extremes kept).",
            ),
        ] = 200,
        since_step: Annotated[
            int | None,
            Field(
                ge=0,
                le=10**15,
                description="Only series points after this step (summaries still cover the "
                "whole run).",
            ),
        ] = None,
        tag_offset: Annotated[
            int,
            Field(ge=0, le=100_000, description="Skip this many matching tags (for more than 20)."),
        ] = 0,
    ) -> MetricsView:
        """Summarise a training run's scalar metrics without reading raw logs.

        For each tag (up to 20 per call): last, min, max and best values with their steps, the
        trend over the recent window, NaN/Inf counts, steps per second, when it last updated,
        and a downsampled series that keeps spikes. Works on a job_id, a TensorBoard log dir,
        trackio ('trackio:<project>/<run>'), or JSONL/CSV files. Calling again on a growing log
        reads only what was added, so polling is cheap; use since_step to get only new points.
        """
        report = await _in_thread(
            ctx,
            f"reading {source}",
            core.metrics,
            settings,
            toolkit.ctx.store,
            source,
            tags,
            max_points,
            since_step,
            tag_offset,
        )
        return MetricsView.model_validate(report.model_dump())

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
            Field(
                min_length=1,
                max_length=100_000,
                description="Path to the user's preferences.md, or its Markdown text. "
                "Omit for the default judgment.",
            ),
        ] = None,
    ) -> CheckView:
        """Judge a run (against the user's preferences.md, if given) and say what to do.

        Always diagnoses each metric with evidence and a next action: improving, converged,
        plateaued, diverging, nan, overfitting (with the step the train/val gap opened),
        lr_too_low, noisy.

        preferences.md is Markdown with ```yaml blocks: metrics to watch (goal, threshold,
        patience), health limits (max_minutes_without_step) and rules pairing a condition with
        an action (lower_lr, restart, stop, notify, set_config). Returns a verdict per metric
        (ok, nan_inf, diverged, plateau, threshold, missing) and for the run (stale, crashed),
        which rules fired and why, and the exact call that applies the first fired rule (e.g.
        experiments_restart with the new learning rate). Deterministic; changes nothing.
        """
        report = await _in_thread(
            ctx, f"checking {source}", core.check, settings, toolkit.ctx.store, source, preferences
        )
        return CheckView.model_validate(report.model_dump())

    @toolkit.tool(
        name="plot",
        title="Plot run metrics",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def plot(source: Source, ctx: Context, tags: Tags = None) -> PlotView:
        """Draw a PNG chart of a run's metrics (one panel per tag, up to 6; NaN/Inf marked in
        red) and return it as an image, with a two-line text summary for hosts that show no
        images. Prefer experiments_metrics when you need numbers; use this to show a person.
        """
        png, summary = await _in_thread(
            ctx, f"plotting {source}", core.plot, settings, toolkit.ctx.store, source, tags
        )
        view = PlotView.model_validate(summary.model_dump())
        return ToolResult(  # type: ignore[return-value]  # image + text; schema is PlotView's
            content=[
                ImageContent(
                    type="image", data=base64.b64encode(png).decode(), mime_type="image/png"
                ),
                TextContent(type="text", text=view.render()),
            ],
            structured_content=view.model_dump(mode="json"),
        )

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
            list[Source],
            Field(
                min_length=1,
                max_length=8,
                description="Two to eight sources (job ids, log dirs, files, trackio runs), or "
                "one restarted job id: its restart chain, with what each restart gained.",
            ),
        ],
        ctx: Context,
        tags: Tags = None,
    ) -> ComparisonView:
        """Put runs side by side: final and best value of each tag per run (and which run is
        best), plus the configuration keys whose values differ between the runs (from each
        job's config file and submission, trackio's run config, or a config.yaml/json in the
        log dir).
        """
        result = await _in_thread(
            ctx, "comparing runs", compare_runs.compare, settings, toolkit.ctx.store, sources, tags
        )
        return ComparisonView.model_validate(result.model_dump())

    @toolkit.tool(
        name="restart",
        title="Restart a job with a changed config",
        read_only=False,
        destructive=True,
        idempotent=False,
        open_world=True,
    )
    async def restart(
        job_id: Annotated[
            str, Field(min_length=1, max_length=64, description="The job to restart.")
        ],
        reason: Annotated[
            str,
            Field(
                min_length=1,
                max_length=2000,
                description="Why, with the numbers (it goes into the journal).",
            ),
        ],
        ctx: Context,
        config_changes: Annotated[
            dict[Annotated[str, Field(max_length=200)], ConfigValue],
            Field(
                max_length=50,
                description="Dotted config keys to new "
                "values, e.g. {'optimizer.lr': 0.0003}. {} restarts "
                "unchanged.",
            ),
        ] = {},  # noqa: B006 - pydantic copies defaults
        experiment: Annotated[
            str | None,
            Field(
                max_length=64,
                description="Journal to record "
                "in. Default: the journal already following this job, else the "
                "job's name.",
            ),
        ] = None,
        allow_new_keys: Annotated[
            bool,
            Field(
                description="Allow keys the config does not have "
                "yet (refused by default to catch typos)."
            ),
        ] = False,
        stop_old_job: Annotated[
            bool,
            Field(
                description="Cancel the old job if it is still "
                "running (after the new one is accepted)."
            ),
        ] = True,
    ) -> RestartView:
        """Apply a fix and rerun: edit the job's YAML/JSON config (comments kept) into a new
        file next to the old one, resubmit with the same backend and parameters, record the
        new job's parent, stop the old job if it still runs, and append a journal entry with
        both job ids. Use the call experiments_check suggests. Costs money on paid backends.
        """
        result = await _in_thread(
            ctx,
            f"restarting {job_id}",
            restart_job.restart,
            settings,
            toolkit.ctx.store,
            job_id,
            dict(config_changes),
            reason,
            experiment,
            allow_new_keys,
            stop_old_job,
        )
        return RestartView.model_validate(result.model_dump())

    @toolkit.tool(
        name="journal",
        title="Experiment journal",
        read_only=False,
        destructive=False,
        idempotent=False,
        open_world=False,
    )
    async def journal_tool(
        experiment: Experiment,
        ctx: Context,
        action: Annotated[
            Literal["read", "append"], Field(description="read (default) or append.")
        ] = "read",
        entry: Annotated[
            JournalInput | None,
            Field(
                description="For append: observation "
                "(with numbers), decision, action, job_ids, numbers."
            ),
        ] = None,
        offset: Annotated[
            int | None,
            Field(
                ge=0,
                le=1_000_000,
                description="read: first entry to show (default: the latest ones).",
            ),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=50, description="read: entries to show.")] = 20,
    ) -> JournalView:
        """Read or append to an experiment's journal: a Markdown log of observations (with
        numbers), decisions, actions and job ids, kept in the state store and as a file a
        person can open. Append after every decision you make about a run (experiments_restart
        records its own entry); read to recall what was tried before.
        """
        store = toolkit.ctx.store
        if action == "append":
            if entry is None:
                raise UserError("action='append' needs entry={observation, decision, ...}.")
            await _in_thread(ctx, "appending", journal.append, settings, store, experiment, entry)
            page = await _in_thread(
                ctx, "reading", journal.read, settings, store, experiment, None, 1
            )
        else:
            if entry is not None:
                raise UserError("entry is only used with action='append'; pass it with that.")
            page = await _in_thread(
                ctx, "reading", journal.read, settings, store, experiment, offset, limit
            )
        return JournalView.model_validate(page.model_dump())

    del metrics, check, plot, compare, restart, journal_tool
    return toolkit.mcp
