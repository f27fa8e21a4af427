"""MCP layer of the docs toolkit: schemas, annotations, rendering."""

from __future__ import annotations

from typing import Annotated

from fastmcp import Context, FastMCP
from pydantic import Field

from server.errors import UserError
from server.toolkit import Toolkit, ToolkitContext, progress_from_thread
from toolkits.docs import core
from toolkits.docs.models import DocPage, DocSearchResult

INSTRUCTIONS = (
    "Search Hugging Face documentation (transformers, trl, peft, datasets, hub, diffusers, ...) "
    "with docs_search(query=...), then read a page's markdown with docs_search(url=...)."
)


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("docs", ctx, INSTRUCTIONS)
    settings = ctx.settings

    @toolkit.tool(
        name="search",
        title="Search or read Hugging Face docs",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def search(
        ctx: Context,
        query: Annotated[str | None, Field(min_length=1, max_length=300)] = None,
        library: Annotated[
            str | None, Field(max_length=64, description="docs slug: trl, peft, transformers...")
        ] = None,
        url: Annotated[
            str | None, Field(min_length=1, max_length=500, description="page to read instead")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=30)] = 8,
        offset: Annotated[
            int, Field(ge=0, le=10_000_000, description="results, or page chars")
        ] = 0,
        max_chars: Annotated[int, Field(ge=500, le=15_000)] = 8000,
    ) -> DocSearchResult | DocPage:
        """Search Hugging Face docs: titles, URLs, snippets. Name the library when known (trl
        for SFTTrainer, peft for LoRA); a library's first search indexes it. With url (or
        'trl/sft_trainer'): that page as markdown, in chunks."""
        if (query is None) == (url is None):
            raise UserError("Give query (to search) or url (to read a page), not both.")
        if url is not None:
            return core.fetch_doc(settings, url, offset, max_chars)
        # Sync tools run in a worker thread (see the Toolkit wrapper).
        progress = progress_from_thread(ctx)
        return core.search_docs(settings, query or "", library, limit, offset, progress)

    return toolkit.mcp
