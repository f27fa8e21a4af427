"""MCP layer of the datasets toolkit: datasets_inspect (a description, or SQL with sql=...)."""

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
    "counts, sample rows, column statistics and chat format of a Hub dataset or local files, "
    "and with sql runs read-only DuckDB SQL over them."
)

Dataset = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="Hub id or local file/folder",
    ),
]
Config = Annotated[str | None, Field(max_length=200)]
Split = Annotated[str | None, Field(max_length=200)]


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("datasets", ctx, INSTRUCTIONS)
    settings = ctx.settings

    @toolkit.tool(
        name="inspect",
        title="Inspect or query a dataset",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def inspect(
        dataset: Dataset,
        ctx: Context,
        sql: Annotated[
            str | None, Field(max_length=8000, description="one SELECT over the view `data`")
        ] = None,
        config: Config = None,
        split: Split = None,
        sample_rows: Annotated[int, Field(ge=0, le=20)] = 5,
        column_offset: Annotated[int, Field(ge=0, le=100_000)] = 0,
        limit: Annotated[int, Field(ge=1, le=1000, description="rows")] = 100,
        offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
    ) -> models.DatasetInspection | models.QueryResult:
        """Describe a Hub or local dataset without downloading it: configs, splits, row
        counts, schema, sample rows, column stats, chat format (40 columns per call from
        column_offset). With sql: read-only DuckDB over it, e.g. SELECT label, count(*) FROM
        data GROUP BY label (each split is also a view); Hub splits are cached once."""
        return await anyio.to_thread.run_sync(
            functools.partial(
                core.inspect_or_query,
                settings,
                dataset,
                sql=sql,
                config=config,
                split=split,
                sample_rows=sample_rows,
                column_offset=column_offset,
                limit=limit,
                offset=offset,
                progress=progress_from_thread(ctx),
            )
        )

    return toolkit.mcp
