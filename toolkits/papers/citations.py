"""References and citations of a paper from the Semantic Scholar Graph API, cached.

Anonymous callers share a small rate limit there, so every answer is kept in the state store for
``citations_cache_ttl_s``; the API key (if any) is sent to Semantic Scholar only.
"""

from __future__ import annotations

from typing import Any, Literal

from server.settings import Settings
from server.state import StateStore
from toolkits import _remote as remote
from toolkits.papers.cache import RemoteCache
from toolkits.papers.ids import ArxivId
from toolkits.papers.models import CitationList, CitingPaper, clip_summary

Direction = Literal["references", "citations"]
# Edge fields (contexts, intents, isInfluential) plus fields of the paper at the other end.
FIELDS = "contexts,intents,isInfluential,title,year,venue,authors,externalIds,citationCount"
MAX_CONTEXTS = 3
MAX_AUTHORS = 4


def s2_service(settings: Settings) -> remote.Service:
    return remote.Service(
        name="Semantic Scholar",
        base_url=settings.semantic_scholar_url,
        url_setting="MLINTERN_SEMANTIC_SCHOLAR_URL",
        timeout_s=settings.http_timeout_s,
        credential="SEMANTIC_SCHOLAR_API_KEY",
        has_credential=settings.semantic_scholar_api_key is not None,
    )


def paper_citations(
    settings: Settings,
    store: StateStore,
    arxiv_id: ArxivId,
    direction: Direction,
    limit: int,
    offset: int,
) -> CitationList:
    cache = RemoteCache(store)
    key = f"s2:{direction}:{arxiv_id.base}:{offset}:{limit}"
    hit = cache.get(key, settings.citations_cache_ttl_s)
    if hit is not None:
        body, fetched_at = hit
    else:
        body = _fetch(settings, arxiv_id, direction, limit, offset)
        fetched_at = cache.put(key, body)
    side = "citedPaper" if direction == "references" else "citingPaper"
    papers = [_citing_paper(edge, side) for edge in body.get("data") or []]
    next_offset = body.get("next")
    hint = None
    if next_offset is not None:
        hint = (
            f"More on Semantic Scholar: papers_get(arxiv_id='{arxiv_id.base}', "
            f"follow='{direction}', offset={next_offset})."
        )
    return CitationList(
        arxiv_id=arxiv_id.base,
        direction=direction,
        papers=papers,
        offset=offset,
        next_offset=next_offset,
        hint=hint,
        cached=hit is not None,
        fetched_at=fetched_at,
    )


def _fetch(
    settings: Settings, arxiv_id: ArxivId, direction: Direction, limit: int, offset: int
) -> dict[str, Any]:
    service = s2_service(settings)
    key = settings.semantic_scholar_api_key
    headers = {"x-api-key": key.get_secret_value()} if key else None
    with remote.client(service, headers=headers) as http:
        response = remote.get(
            http,
            service,
            f"/graph/v1/paper/arXiv:{arxiv_id.base}/{direction}",
            params={"fields": FIELDS, "offset": offset, "limit": limit},
            not_found=(
                f"Semantic Scholar has no paper arXiv:{arxiv_id.base} (new papers take a few "
                f"days to appear). Check the id with papers_get(arxiv_id='{arxiv_id.base}')."
            ),
        )
    body = response.json()
    return body if isinstance(body, dict) else {}


def _citing_paper(edge: dict[str, Any], side: str) -> CitingPaper:
    paper = edge.get(side) or {}
    ids = paper.get("externalIds") or {}
    names = [a.get("name") for a in paper.get("authors") or [] if a.get("name")]
    authors = names[:MAX_AUTHORS] + (["et al."] if len(names) > MAX_AUTHORS else [])
    contexts = [clip_summary(c) for c in (edge.get("contexts") or [])[:MAX_CONTEXTS] if c]
    return CitingPaper(
        title=paper.get("title"),
        year=paper.get("year"),
        venue=paper.get("venue") or None,
        authors=authors,
        arxiv_id=ids.get("ArXiv"),
        doi=ids.get("DOI"),
        semantic_scholar_id=paper.get("paperId"),
        citation_count=paper.get("citationCount"),
        influential=bool(edge.get("isInfluential")),
        intents=[i for i in edge.get("intents") or [] if i],
        contexts=contexts,
    )
