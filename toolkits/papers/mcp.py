"""MCP layer of the papers toolkit: schemas, annotations, rendering."""

from __future__ import annotations

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext, progress_from_thread
from toolkits.papers import core
from toolkits.papers.models import CitationList, PaperDetails, PaperList

INSTRUCTIONS = (
    "Find ML papers and read their recipes: papers_search finds papers (or lists trending ones), "
    "papers_get gives details, the section outline and linked Hub models/datasets, and with "
    "section='4.1' the text of one section, and with follow= its references or citations."
)

ArxivIdParam = Annotated[str, Field(min_length=4, max_length=120)]
Day = Annotated[str | None, Field(max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$")]


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("papers", ctx, INSTRUCTIONS)
    settings = ctx.settings

    @toolkit.tool(
        name="search",
        title="Search or list trending papers",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def search(
        query: Annotated[str, Field(max_length=300)] = "",
        date_from: Day = None,
        date_to: Day = None,
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        offset: Annotated[int, Field(ge=0, le=500)] = 0,
    ) -> PaperList:
        """Search ML papers on Hugging Face papers (arXiv), best first; without query: the
        trending papers of day date_from (default latest). Gives ids, titles, authors,
        upvotes, short abstracts."""
        return core.find_papers(settings, query, date_from, date_to, limit, offset)

    @toolkit.tool(
        name="get",
        title="Paper details, a section, or its citations",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def get(
        arxiv_id: ArxivIdParam,
        ctx: Context,
        section: Annotated[
            str | None, Field(max_length=120, description="'4.1', 'A' or title words")
        ] = None,
        follow: Literal["references", "citations"] | None = None,
        offset: Annotated[int, Field(ge=0, le=5_000_000)] = 0,
        max_chars: Annotated[int, Field(ge=500, le=15_000)] = 6000,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> PaperDetails | CitationList:
        """Read a paper. No section: abstract, links, Hub models/datasets citing it and
        the section outline. section='4.1' or 'training recipe': that section's text, for
        datasets and hyperparameters. follow: the papers it cites or that cite it (Semantic
        Scholar), with citation counts and the citing sentences."""
        if follow is not None:
            return core.citations(settings, toolkit.ctx.store, arxiv_id, follow, limit, offset)
        return core.get_paper(
            settings,
            toolkit.ctx.store,
            arxiv_id,
            section,
            offset,
            max_chars,
            progress_from_thread(ctx),
        )

    return toolkit.mcp
