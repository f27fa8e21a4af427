"""Papers: find them, read their recipes, follow their citations. Plain functions, no MCP.

Sources: the Hugging Face papers API (search, daily papers, paper pages, repos tagged
``arxiv:<id>``), arXiv (HTML sections; the export API for papers the Hub does not index) and
Semantic Scholar (references and citations). Everything here is synchronous: the MCP layer runs
it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from server.errors import NotFoundError, UserError
from server.output_caps import page_text
from server.settings import Settings
from server.state import StateStore
from toolkits.papers import arxiv, hub_papers
from toolkits.papers.citations import Direction, paper_citations
from toolkits.papers.ids import ArxivId, parse_arxiv_id
from toolkits.papers.latexml import find_section, section_with_children
from toolkits.papers.models import (
    CitationList,
    PaperDetails,
    PaperList,
    SectionHeading,
    SectionText,
)

if TYPE_CHECKING:
    from huggingface_hub.hf_api import PaperInfo

Progress = Callable[[int, int, str], None]
LINKED_REPOS_SHOWN = 5
MAX_OUTLINE = 80


def _page(found: list, offset: int, limit: int) -> tuple[list, int | None]:
    window = found[offset : offset + limit]
    more = len(found) > offset + limit
    return window, (offset + limit if more else None)


def find_papers(
    settings: Settings,
    query: str = "",
    date_from: str | None = None,
    date_to: str | None = None,
    limit: int = 10,
    offset: int = 0,
) -> PaperList:
    """Papers matching ``query`` (published between the dates), or without a query the daily
    trending papers of the day ``date_from`` (default: the latest). Raises UserError for a date
    range without a query, and what the Hub calls raise."""
    if query.strip():
        return search_papers(settings, query, date_from, date_to, limit, offset)
    if date_to and date_to != date_from:
        raise UserError(
            "Without a query this lists one day's trending papers: give that day as date_from, "
            "or add a query to search a date range."
        )
    return trending_papers(settings, date_from, limit, offset)


def search_papers(
    settings: Settings,
    query: str,
    date_from: str | None = None,
    date_to: str | None = None,
    limit: int = 10,
    offset: int = 0,
) -> PaperList:
    """Papers on the Hugging Face papers pages matching ``query``, optionally within dates.

    Raises UserError for an empty query or malformed dates, and when the papers API fails.
    """
    query = " ".join(query.split())
    if not query:
        raise UserError("The query is empty; give a few words, e.g. 'lora fine-tuning'.")
    found = hub_papers.search(settings, query, date_from, date_to, want=offset + limit + 1)
    papers, next_offset = _page(found, offset, limit)
    dated = " published " + " to ".join(d for d in (date_from or "…", date_to or "…"))
    dates = dated if (date_from or date_to) else ""
    note = None
    if not papers:
        note = (
            "No papers found. Try fewer or broader words"
            + (", or widen the date range" if dates else "")
            + "."
        )
    return PaperList(
        source=f"Hugging Face papers matching {query!r}{dates}",
        papers=papers,
        offset=offset,
        next_offset=next_offset,
        hint=_more_hint(f"papers_search(query={query!r}, ...)", next_offset),
        note=note,
    )


def trending_papers(
    settings: Settings, date: str | None = None, limit: int = 10, offset: int = 0
) -> PaperList:
    """One page of a day's featured papers (today when ``date`` is None), with a note when
    there are none. Raises UserError for a malformed date or a failing papers API.
    """
    found = hub_papers.daily(settings, date)
    papers, next_offset = _page(found, offset, limit)
    note = None
    if not found:
        note = (
            f"No daily papers for {date}: none are featured on weekends, holidays or future "
            "dates. Try another date_from, or omit it for the latest."
            if date
            else "The Hub returned no daily papers; try again later."
        )
    return PaperList(
        source=f"Hugging Face daily papers ({date or 'latest'}), most upvoted first",
        papers=papers,
        offset=offset,
        next_offset=next_offset,
        hint=_more_hint(f"papers_search(date_from={date!r}, ...)", next_offset),
        note=note,
    )


def _more_hint(call: str, next_offset: int | None) -> str | None:
    if next_offset is None:
        return None
    return f"More results: call {call} with offset={next_offset}."


def get_paper(
    settings: Settings,
    store: StateStore,
    raw_id: str,
    section: str | None = None,
    offset: int = 0,
    max_chars: int = 6000,
    progress: Progress | None = None,
) -> PaperDetails:
    """A paper's details, linked repos and outline, or one section's text when ``section`` is
    given (Hub page first, arXiv as the fallback).

    Raises UserError for an id that is not an arXiv id, NotFoundError for an unknown paper or a
    section it does not have (listing the outline).
    """
    arxiv_id = parse_arxiv_id(raw_id)
    if section is not None and section.strip():
        return _section(settings, store, arxiv_id, section.strip(), offset, max_chars)
    report = progress or (lambda done, total, message: None)
    report(0, 3, "fetching the paper page, linked repos and the HTML outline")
    # Four independent remote calls: run them side by side, not one after another.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="papers-get") as pool:
        page = pool.submit(hub_papers.paper_page, settings, arxiv_id.base)
        models = pool.submit(
            hub_papers.linked_repos, settings, arxiv_id.base, "models", LINKED_REPOS_SHOWN
        )
        datasets = pool.submit(
            hub_papers.linked_repos, settings, arxiv_id.base, "datasets", LINKED_REPOS_SHOWN
        )
        outline = pool.submit(arxiv.paper_sections, settings, store, arxiv_id)
        notes: list[str] = []
        try:
            info = page.result()
        except UserError as exc:  # arXiv still has the essentials: degrade, and say so
            info = None
            notes.append(f"Hugging Face paper page unavailable ({exc}); details are from arXiv.")
        report(1, 3, "paper page read")
        details = _from_hub(info) if info else arxiv.require_metadata(settings, arxiv_id)
        details.notes += notes
        details.links = _links(settings, arxiv_id, info)
        _attach_repos(details, models, datasets)
        report(2, 3, "linked repos read")
        try:
            parsed = outline.result()
        except NotFoundError:
            details.notes.append(
                "arXiv has no HTML version of this paper, so its sections cannot be read; "
                f"see the PDF at {details.links['pdf']}."
            )
        except UserError as exc:  # arXiv slow or down: the details above still stand
            details.notes.append(f"Section outline unavailable: {exc}")
        else:
            details.links["html"] = arxiv.html_url(settings, arxiv_id)
            details.sections = [
                SectionHeading(number=s.number, title=s.title, level=s.level)
                for s in parsed.sections[:MAX_OUTLINE]
            ]
            if len(parsed.sections) > MAX_OUTLINE:
                details.notes.append(f"Outline cut at {MAX_OUTLINE} sections.")
    report(3, 3, "done")
    return details


def _from_hub(info: PaperInfo) -> PaperDetails:
    summary = hub_papers.summarize(info)
    return PaperDetails(
        arxiv_id=summary.arxiv_id,
        title=summary.title,
        source="huggingface",
        authors=summary.authors,
        published=summary.published,
        abstract=" ".join((info.summary or "").split()) or None,
        ai_summary=info.ai_summary,
        keywords=summary.keywords,
        upvotes=summary.upvotes,
    )


def _links(settings: Settings, arxiv_id: ArxivId, hub_page: PaperInfo | None) -> dict[str, str]:
    base = settings.arxiv_url.rstrip("/")
    links = {
        "arxiv": f"{base}/abs/{arxiv_id.versioned}",
        "pdf": f"{base}/pdf/{arxiv_id.versioned}",
    }
    if hub_page is not None:
        links["huggingface"] = f"{settings.hf_endpoint.rstrip('/')}/papers/{arxiv_id.base}"
        for name, value in (
            ("github", hub_page.github_repo),
            ("project_page", hub_page.project_page),
        ):
            if value:
                links[name] = value
    return links


def _attach_repos(details: PaperDetails, models: Future, datasets: Future) -> None:
    try:
        details.linked_models, more_models = models.result()
        details.linked_datasets, more_datasets = datasets.result()
    except UserError as exc:  # the paper itself is still worth returning
        details.notes.append(f"Linked models/datasets unavailable: {exc}")
        return
    kinds = [k for k, more in (("model", more_models), ("dataset", more_datasets)) if more]
    if kinds:
        details.more_linked = (
            f"More linked repos exist; list them with hub_search(kind='{kinds[0]}', "
            f"filters=['arxiv:{details.arxiv_id}'])."
        )


def _section(
    settings: Settings,
    store: StateStore,
    arxiv_id: ArxivId,
    wanted: str,
    offset: int,
    max_chars: int,
) -> PaperDetails:
    parsed = arxiv.paper_sections(settings, store, arxiv_id)
    index = find_section(parsed.sections, wanted)
    if index is None:
        known = "; ".join(f"{s.number} {s.title}".strip() for s in parsed.sections[:MAX_OUTLINE])
        raise NotFoundError(
            f"No section {wanted!r} in arXiv:{arxiv_id.versioned}. Ask by number or title; "
            f"its sections are: {known or '(none found in the HTML)'}."
        )
    chosen = parsed.sections[index]
    page = page_text(
        section_with_children(parsed.sections, index),
        offset=offset,
        max_chars=max_chars,
        continue_with=f"papers_get(arxiv_id='{arxiv_id.versioned}', section={wanted!r})",
    )
    return PaperDetails(
        arxiv_id=arxiv_id.base,
        title=parsed.title or arxiv_id.versioned,
        source="arxiv",
        links={"html": arxiv.html_url(settings, arxiv_id)},
        section=SectionText(number=chosen.number, title=chosen.title, **page.model_dump()),
    )


def citations(
    settings: Settings,
    store: StateStore,
    raw_id: str,
    direction: Direction = "references",
    limit: int = 20,
    offset: int = 0,
) -> CitationList:
    """One page of a paper's references or citing papers from Semantic Scholar (cached).

    Raises UserError for a bad arXiv id or a failing API, NotFoundError when Semantic Scholar
    does not know the paper.
    """
    return paper_citations(settings, store, parse_arxiv_id(raw_id), direction, limit, offset)
