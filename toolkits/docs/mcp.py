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
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=300,
                description="Words or API names, e.g. 'SFTTrainer packing' or 'LoraConfig'.",
            ),
        ],
        ctx: Context,
        library: Annotated[
            str | None,
            Field(
                max_length=64,
                description="Docs slug as in huggingface.co/docs/<slug>: transformers, trl, "
                "peft, datasets, hub, diffusers, accelerate, ... Omit to search the common ones.",
            ),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=30, description="How many pages.")] = 8,
        offset: Annotated[int, Field(ge=0, le=300, description="From next_offset.")] = 0,
    ) -> DocSearchResult:
        """Find Hugging Face documentation pages about an API, a concept or a task.

        Ranks every page of a library (title, sidebar section, headings and text) by BM25 and
        returns titles, URLs and matching snippets. Name the library when you know it (trl for
        SFTTrainer/DPOTrainer, peft for LoRA, transformers for Trainer). The first search of a
        library builds its local index (a few seconds, with progress); later ones are instant.
        Read a result with docs_fetch(url=...).
        """

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
            str,
            Field(
                min_length=1,
                max_length=500,
                description="Docs page URL, e.g. https://huggingface.co/docs/trl/sft_trainer "
                "(or 'trl/sft_trainer').",
            ),
        ],
        offset: Annotated[
            int, Field(ge=0, le=10_000_000, description="Character offset (from next_offset).")
        ] = 0,
        max_chars: Annotated[
            int, Field(ge=500, le=15_000, description="Most characters to return.")
        ] = 8000,
    ) -> DocPage:
        """Read a Hugging Face documentation page as markdown, in chunks.

        Takes a URL from docs_search (or any page under huggingface.co/docs/). Returns the
        page's markdown source: prose, parameters and code examples. Long pages are cut; call
        again with offset=next_offset for the rest. Only documentation pages can be read.
        """
        return core.fetch_doc(settings, url, offset, max_chars)

    return toolkit.mcp
