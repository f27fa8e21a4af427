"""MCP layer of the datasets toolkit: datasets_inspect and datasets_query."""

from __future__ import annotations

import functools
from typing import Annotated

import anyio
import anyio.from_thread
from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext, progress_from_thread
from toolkits.datasets import core, models

INSTRUCTIONS = (
    "Look inside datasets before training on them: datasets_inspect shows splits, schema, row "
    "counts, sample rows, column statistics and chat format of a Hub dataset or local files; "
    "datasets_query runs read-only SQL (DuckDB) over them."
)

Dataset = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="Hub id, or a local parquet/CSV/JSON(L)/Arrow file or folder",
    ),
]
Config = Annotated[str | None, Field(max_length=200)]
Split = Annotated[str | None, Field(max_length=200, description="default 'train' or first")]


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("datasets", ctx, INSTRUCTIONS)
    settings = ctx.settings

    @toolkit.tool(
        name="inspect",
        title="Inspect a dataset",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def inspect(
        dataset: Dataset,
        ctx: Context,
        config: Config = None,
        split: Split = None,
        sample_rows: Annotated[int, Field(ge=0, le=20)] = 5,
        column_offset: Annotated[int, Field(ge=0, le=100_000)] = 0,
    ) -> models.DatasetInspection:
        """Describe a dataset without downloading it: configs and splits with row counts,
        schema, sample rows, per-column nulls/min/max/distinct/text lengths, and chat format
        (roles and turns of a messages column). Columns come 40 at a time (continue from
        next_column_offset)."""
        await ctx.report_progress(0, 1, f"inspecting {dataset}")
        result = await anyio.to_thread.run_sync(
            functools.partial(
                core.inspect_dataset,
                settings,
                dataset,
                config=config,
                split=split,
                sample_rows=sample_rows,
                column_offset=column_offset,
            )
        )
        await ctx.report_progress(1, 1, "done")
        return result

    @toolkit.tool(
        name="query",
        title="Query a dataset with SQL",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def query(
        dataset: Dataset,
        sql: Annotated[
            str,
            Field(min_length=1, max_length=8000, description="one SELECT over the view `data`"),
        ],
        ctx: Context,
        config: Config = None,
        split: Split = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
        offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
    ) -> models.QueryResult:
        """Run one read-only DuckDB query over a dataset, e.g. SELECT label, count(*) FROM
        data GROUP BY label; each split is also a view by its name. Hub splits are downloaded
        once into a bounded cache. Stopped at a time limit; page with offset=next_offset."""
        return await anyio.to_thread.run_sync(
            functools.partial(
                core.run_query,
                settings,
                dataset,
                sql,
                config=config,
                split=split,
                limit=limit,
                offset=offset,
                progress=progress_from_thread(ctx),
            )
        )

    return toolkit.mcp
