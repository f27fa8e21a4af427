"""MCP layer of the docs toolkit: schemas, annotations, rendering."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext, progress_from_thread
from toolkits.docs import core
from toolkits.docs.models import DocPage, DocSearchResult

INSTRUCTIONS = (
    "Search Hugging Face documentation (transformers, trl, peft, datasets, hub, diffusers, ...) "
    "with docs_search, then read a page's markdown with docs_fetch."
)


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("docs", ctx, INSTRUCTIONS)
    settings = ctx.settings

    @toolkit.tool(
        name="search",
        title="Search Hugging Face docs",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def search(
        query: Annotated[str, Field(min_length=1, max_length=300)],
        ctx: Context,
        library: Annotated[
            str | None, Field(max_length=64, description="docs slug: trl, peft, transformers...")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=30)] = 8,
        offset: Annotated[int, Field(ge=0, le=300)] = 0,
    ) -> DocSearchResult:
        """Search Hugging Face docs: titles, URLs, snippets. Name the library when
        known (trl for SFTTrainer, peft for LoRA); a library's first search indexes it."""

        # Sync tools run in a worker thread (see the Toolkit wrapper).
        progress = progress_from_thread(ctx)
        return core.search_docs(settings, query, library, limit, offset, progress)

    @toolkit.tool(
        name="fetch",
        title="Read a Hugging Face docs page",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def fetch(
        url: Annotated[
            str, Field(min_length=1, max_length=500, description="docs URL or 'trl/sft_trainer'")
        ],
        offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0,
        max_chars: Annotated[int, Field(ge=500, le=15_000)] = 8000,
    ) -> DocPage:
        """Read a Hugging Face docs page as markdown, in chunks from offset."""
        return core.fetch_doc(settings, url, offset, max_chars)

    return toolkit.mcp
