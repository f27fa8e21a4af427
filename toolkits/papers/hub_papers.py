"""Hugging Face papers through huggingface_hub: search, daily papers, paper pages, linked repos.

Client construction, time limits, bounded retries and error messages are the ones every Hub
toolkit shares (``toolkits._hf``); huggingface_hub itself is imported inside functions.
"""

from __future__ import annotations

from datetime import date
from itertools import islice
from typing import TYPE_CHECKING

from server.errors import UserError
from server.settings import Settings
from toolkits._hf.calls import call_hub
from toolkits._hf.client import hub_api
from toolkits.papers.models import LinkedRepo, PaperSummary, clip_summary

if TYPE_CHECKING:
    from huggingface_hub.hf_api import PaperInfo

# The Hub's search returns at most about this many hits; date filters apply to this pool.
SEARCH_POOL = 100
DAILY_POOL = 100
MAX_AUTHORS = 6


def summarize(paper: PaperInfo) -> PaperSummary:
    names = [a.name for a in (paper.authors or []) if a.name]
    authors = names[:MAX_AUTHORS] + (["et al."] if len(names) > MAX_AUTHORS else [])
    return PaperSummary(
        arxiv_id=paper.id,
        title=" ".join((paper.title or "").split()) or paper.id,
        authors=authors,
        published=paper.published_at.date().isoformat() if paper.published_at else None,
        upvotes=paper.upvotes,
        summary=clip_summary(paper.summary),
        keywords=list(paper.ai_keywords or [])[:8],
        github_repo=paper.github_repo,
    )


def parse_day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"{name}={value!r} is not a date; use YYYY-MM-DD, e.g. 2025-02-03."
        ) from None


def search(
    settings: Settings, query: str, date_from: str | None, date_to: str | None, want: int
) -> list[PaperSummary]:
    """Papers matching ``query``, best first, published within the optional date range."""
    start, end = parse_day(date_from, "date_from"), parse_day(date_to, "date_to")
    if start and end and start > end:
        raise UserError(f"date_from ({start}) is after date_to ({end}); swap them.")
    api = hub_api(settings)
    pool = SEARCH_POOL if (start or end) else min(want, SEARCH_POOL)
    found = call_hub(
        settings,
        lambda: list(islice(api.list_papers(query=query, limit=pool), pool)),
        what=f"searching papers for {query!r}",
    )
    papers = [summarize(p) for p in found]
    if start or end:
        papers = [p for p in papers if p.published and _within(p.published, start, end)]
    return papers


def _within(day: str, start: date | None, end: date | None) -> bool:
    published = date.fromisoformat(day)
    return (start is None or published >= start) and (end is None or published <= end)


def daily(settings: Settings, day: str | None) -> list[PaperSummary]:
    """The papers featured on ``day`` (latest day when None), most upvoted first."""
    parse_day(day, "date")
    api = hub_api(settings)
    found = call_hub(
        settings,
        lambda: list(
            islice(api.list_daily_papers(date=day, sort="trending", limit=DAILY_POOL), DAILY_POOL)
        ),
        what=f"listing the daily papers of {day or 'the latest day'}",
    )
    papers = [summarize(p) for p in found]
    return sorted(papers, key=lambda p: -(p.upvotes or 0))


def paper_page(settings: Settings, arxiv_id: str) -> PaperInfo | None:
    """The Hub's paper page, or None when the Hub does not index this paper."""
    from huggingface_hub.errors import HfHubHTTPError

    api = hub_api(settings)

    def read() -> PaperInfo | None:
        try:
            return api.paper_info(arxiv_id)
        except HfHubHTTPError as exc:
            # A plain 404 here means "not on the Hub", not an error: arXiv may still have it.
            if exc.response is not None and exc.response.status_code == 404:
                return None
            raise

    return call_hub(settings, read, what=f"reading the paper page of {arxiv_id}")


def linked_repos(
    settings: Settings, arxiv_id: str, kind: str, limit: int
) -> tuple[list[LinkedRepo], bool]:
    """The most downloaded models or datasets tagged ``arxiv:<id>``, and whether more exist."""
    api = hub_api(settings)
    lister = api.list_models if kind == "models" else api.list_datasets
    found = call_hub(
        settings,
        lambda: list(lister(filter=f"arxiv:{arxiv_id}", sort="downloads", limit=limit + 1)),
        what=f"listing {kind} tagged arxiv:{arxiv_id}",
    )
    repos = [LinkedRepo(repo_id=r.id, downloads=r.downloads, likes=r.likes) for r in found]
    return repos[:limit], len(repos) > limit
