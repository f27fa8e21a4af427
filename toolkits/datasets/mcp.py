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
        description="A Hub dataset id ('stanfordnlp/imdb') or a local path: a parquet, CSV, "
        "JSONL/JSON or Arrow file, a save_to_disk folder, or a folder of such files.",
    ),
]
Config = Annotated[
    str | None,
    Field(max_length=200, description="Hub config (subset); default 'default' or first."),
]
Split = Annotated[str | None, Field(max_length=200, description="Split; default 'train' or first.")]


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
        sample_rows: Annotated[int, Field(ge=0, le=20, description="Rows to show.")] = 5,
        column_offset: Annotated[
            int, Field(ge=0, le=100_000, description="First column to describe (wide tables).")
        ] = 0,
    ) -> models.DatasetInspection:
        """Describe a dataset without downloading it: configs and splits with row counts, the
        schema, sample rows (long values cut), per-column nulls / min / max / approximate
        distinct / text lengths, and chat format (a messages column: roles and turns per row).
        Hub datasets are read from the dataset viewer; local files through their metadata
        (parquet footers), so even multi-GB files answer at once. Columns are shown 40 at a
        time: continue with column_offset=next_column_offset.
        """
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
            Field(
                min_length=1,
                max_length=8000,
                description="One DuckDB SELECT (or WITH ... SELECT) over the view `data` (the "
                "chosen split); the split is also a view named after it (for local datasets, "
                "every split is).",
            ),
        ],
        ctx: Context,
        config: Config = None,
        split: Split = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="Rows to return.")] = 100,
        offset: Annotated[int, Field(ge=0, le=10_000_000, description="Rows to skip.")] = 0,
    ) -> models.QueryResult:
        """Run one read-only SQL query (DuckDB dialect) over a local dataset or a Hub
        dataset's parquet export, e.g. SELECT label, count(*) FROM data GROUP BY label. Only
        SELECT/WITH is accepted; the query can read nothing but the dataset, and is stopped at a
        time limit. Hub splits are downloaded once into a size-bounded local cache (progress is
        reported). Returns up to `limit` rows; continue with offset=next_offset when truncated.
        """

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
