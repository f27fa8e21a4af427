"""arXiv: a paper's sections from its HTML version, and metadata from the export API.

The HTML version is parsed once and its sections kept in the state store: paging through a long
section, or reading several sections of one paper, must not download megabytes each time.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from server.errors import NotFoundError
from server.settings import Settings
from server.state import StateStore
from toolkits import _remote as remote
from toolkits.papers.cache import RemoteCache
from toolkits.papers.ids import ArxivId
from toolkits.papers.latexml import ParsedPaper, Section, parse_paper
from toolkits.papers.models import PaperDetails

# A versioned HTML page never changes; the latest version of an id changes rarely.
HTML_CACHE_TTL_S = 7 * 24 * 3600
_ATOM = "{http://www.w3.org/2005/Atom}"


def arxiv_service(settings: Settings) -> remote.Service:
    return remote.Service(
        name="arXiv",
        base_url=settings.arxiv_url,
        url_setting="MLINTERN_ARXIV_URL",
        timeout_s=settings.http_timeout_s,
    )


def html_url(settings: Settings, arxiv_id: ArxivId) -> str:
    return f"{settings.arxiv_url.rstrip('/')}/html/{arxiv_id.versioned}"


def paper_sections(settings: Settings, store: StateStore, arxiv_id: ArxivId) -> ParsedPaper:
    """The parsed HTML version; NotFoundError when arXiv has no HTML for this paper."""
    cache = RemoteCache(store)
    key = f"arxiv-html:{arxiv_id.versioned}"
    hit = cache.get(key, HTML_CACHE_TTL_S)
    if hit is not None:
        body, _ = hit
        return ParsedPaper(title=body["title"], sections=[Section(**s) for s in body["sections"]])
    service = arxiv_service(settings)
    pdf = f"{settings.arxiv_url.rstrip('/')}/pdf/{arxiv_id.versioned}"
    with remote.client(service, follow_redirects=True) as http:  # no credential to leak
        response = remote.get(
            http,
            service,
            html_url(settings, arxiv_id),
            not_found=(
                f"arXiv has no HTML version of {arxiv_id.versioned} (common for papers from "
                f"before December 2023 or without LaTeX sources), so sections cannot be read. "
                f"The PDF is at {pdf}; papers_get(arxiv_id='{arxiv_id.base}') without a section "
                "still gives the abstract."
            ),
        )
    parsed = parse_paper(response.text)
    cache.put(
        key,
        {
            "title": parsed.title,
            "sections": [
                {"number": s.number, "title": s.title, "level": s.level, "text": s.text}
                for s in parsed.sections
            ],
        },
    )
    return parsed


def export_metadata(settings: Settings, arxiv_id: ArxivId) -> PaperDetails | None:
    """Title, authors and abstract from arXiv's export API; None when arXiv has no such id."""
    service = arxiv_service(settings)
    with remote.client(service, follow_redirects=True) as http:  # no credential to leak
        response = remote.get(
            http, service, "/api/query", params={"id_list": arxiv_id.versioned, "max_results": 1}
        )
    try:
        feed = ET.fromstring(response.content)
    except ET.ParseError:
        return None
    for entry in feed.iter(f"{_ATOM}entry"):
        entry_id = (entry.findtext(f"{_ATOM}id") or "").strip()
        title = " ".join((entry.findtext(f"{_ATOM}title") or "").split())
        if "api/errors" in entry_id or not title:
            continue  # the export API reports bad ids as an "Error" entry
        published = (entry.findtext(f"{_ATOM}published") or "")[:10] or None
        authors = [
            " ".join((a.findtext(f"{_ATOM}name") or "").split())
            for a in entry.iter(f"{_ATOM}author")
        ]
        return PaperDetails(
            arxiv_id=arxiv_id.base,
            title=title,
            source="arxiv",
            authors=[a for a in authors if a],
            published=published,
            abstract=" ".join((entry.findtext(f"{_ATOM}summary") or "").split()) or None,
        )
    return None


def require_metadata(settings: Settings, arxiv_id: ArxivId) -> PaperDetails:
    details = export_metadata(settings, arxiv_id)
    if details is None:
        raise NotFoundError(
            f"No paper arXiv:{arxiv_id.versioned} on Hugging Face or arXiv. Check the id (new "
            "ids look like 2502.01234), or find the paper with papers_search(query='<title "
            "words>')."
        )
    return details
