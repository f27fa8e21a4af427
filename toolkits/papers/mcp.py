"""MCP layer of the papers toolkit: schemas, annotations, rendering."""

from __future__ import annotations

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext, progress_from_thread
from toolkits.papers import core
from toolkits.papers.models import CitationList, PaperDetails, PaperList

INSTRUCTIONS = (
    "Find ML papers and read their recipes: papers_search and papers_trending list papers, "
    "papers_get gives details, the section outline and linked Hub models/datasets, and with "
    "section='4.1' the text of one section; papers_citations follows references and citations."
)

ArxivIdParam = Annotated[
    str,
    Field(
        min_length=4,
        max_length=120,
        description="arXiv id such as '2502.01234' (a version, 'arxiv:' prefix or URL is fine).",
    ),
]
Day = Annotated[
    str | None,
    Field(max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$", description="A date, YYYY-MM-DD."),
]
Limit = Annotated[int, Field(ge=1, le=50, description="How many papers to return.")]
Offset = Annotated[int, Field(ge=0, le=500, description="Skip this many (from next_offset).")]


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("papers", ctx, INSTRUCTIONS)
    settings = ctx.settings

    @toolkit.tool(
        name="search",
        title="Search papers",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def search(
        query: Annotated[
            str, Field(min_length=1, max_length=300, description="Topic, method or title words.")
        ],
        date_from: Day = None,
        date_to: Day = None,
        limit: Limit = 10,
        offset: Offset = 0,
    ) -> PaperList:
        """Search ML papers on Hugging Face papers (which indexes arXiv) by topic or title.

        Returns arXiv ids, titles, authors, publication dates, upvotes and a shortened abstract,
        best matches first. Narrow by publication date with date_from/date_to (YYYY-MM-DD). Use
        papers_get(arxiv_id=...) next for the full abstract, section outline and linked
        models/datasets. Page with offset=next_offset.
        """
        return core.search_papers(settings, query, date_from, date_to, limit, offset)

    @toolkit.tool(
        name="trending",
        title="Trending papers",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def trending(date: Day = None, limit: Limit = 10, offset: Offset = 0) -> PaperList:
        """List the papers featured on Hugging Face's daily papers page, most upvoted first.

        Without date: the latest day. With date (YYYY-MM-DD): that day's papers (weekends and
        holidays have none). Good for "what is new in X" questions; follow up with papers_get.
        """
        return core.trending_papers(settings, date, limit, offset)

    @toolkit.tool(
        name="get",
        title="Paper details or one section",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def get(
        arxiv_id: ArxivIdParam,
        ctx: Context,
        section: Annotated[
            str | None,
            Field(
                max_length=120,
                description="Section number ('4', '4.1', 'A') or title words ('training "
                "recipe', 'abstract', 'references'); omit for details and the outline.",
            ),
        ] = None,
        offset: Annotated[
            int, Field(ge=0, le=5_000_000, description="Character offset in the section text.")
        ] = 0,
        max_chars: Annotated[
            int, Field(ge=500, le=15_000, description="Most characters of section text.")
        ] = 6000,
    ) -> PaperDetails:
        """Read one paper: details, or the text of one section from its arXiv HTML version.

        Without section: title, authors, abstract, links (arXiv, PDF, HTML, GitHub), the models
        and datasets on the Hub that cite it (tag arxiv:<id>), and the numbered section outline.
        With section: that section's text including its subsections, e.g. section='4.1' or
        section='training recipe' to get datasets and hyperparameters. Long sections come in
        chunks: call again with offset=next_offset.
        """
        return core.get_paper(
            settings,
            toolkit.ctx.store,
            arxiv_id,
            section,
            offset,
            max_chars,
            progress_from_thread(ctx),
        )

    @toolkit.tool(
        name="citations",
        title="References or citations of a paper",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def citations(
        arxiv_id: ArxivIdParam,
        direction: Annotated[
            Literal["references", "citations"],
            Field(description="'references': papers it cites; 'citations': papers citing it."),
        ] = "references",
        limit: Annotated[int, Field(ge=1, le=100, description="How many papers.")] = 20,
        offset: Annotated[int, Field(ge=0, le=9000, description="From next_offset.")] = 0,
    ) -> CitationList:
        """Walk the citation graph of a paper with Semantic Scholar.

        direction='references' lists the papers it cites; 'citations' the papers that cite it.
        Each entry has title, year, authors, arXiv id or DOI, citation count, the influential
        flag (★: the citation matters to the citing paper's method or results) and the
        sentences around the citation. Answers are cached for a day. Page with
        offset=next_offset.
        """
        return core.citations(settings, toolkit.ctx.store, arxiv_id, direction, limit, offset)

    return toolkit.mcp
