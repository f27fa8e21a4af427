"""Hugging Face documentation: search a library's pages, read a page's markdown. No MCP here.

A library's index is built from the docs site's own listing (the sidebar of
``<docs_url>/<library>``) plus each page's markdown (``<page>.md``), kept on disk in SQLite FTS5
and rebuilt once older than ``docs_index_ttl_s``. When the site cannot be reached, an old index
is still used, and the answer says how old it is.
"""

from __future__ import annotations

import difflib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from server.errors import NotFoundError, UserError
from server.output_caps import page_text
from server.settings import Settings
from server.untrusted import strip_invisible
from toolkits._remote import ServiceUnavailable
from toolkits.docs.index import DocsIndex, IndexedPage
from toolkits.docs.models import DocHit, DocPage, DocSearchResult
from toolkits.docs.site import LIBRARY_SLUG, DocsSite, ListedPage

Progress = Callable[[int, int, str], None]
Clock = Callable[[], float]

DEFAULT_LIBRARIES = ("transformers", "trl", "peft", "datasets", "hub")
# Pages past this many in a library's sidebar are indexed by title only (big API references).
MAX_PAGES_WITH_CONTENT = 300
FETCH_WORKERS = 8
PROGRESS_EVERY = 10
# A slow site must not hold a search for minutes: pages not read by then get title-only entries.
BUILD_BUDGET_S = 90.0

_build_locks: dict[tuple[Path, str], threading.Lock] = {}
_build_locks_guard = threading.Lock()


def index_path(settings: Settings) -> Path:
    """Where the local full-text index of the docs lives (a cache: safe to delete)."""
    return settings.home / "cache" / "docs-index.sqlite3"


def _build_lock(path: Path, library: str) -> threading.Lock:
    # Two searches arriving together must not both download the same library.
    with _build_locks_guard:
        return _build_locks.setdefault((path, library), threading.Lock())


def search_docs(
    settings: Settings,
    query: str,
    library: str | None = None,
    limit: int = 8,
    offset: int = 0,
    progress: Progress | None = None,
    clock: Clock = time.time,
    build_budget_s: float = BUILD_BUDGET_S,
) -> DocSearchResult:
    """Search Hugging Face docs (one library or all indexed ones), building the local index
    on first use. Raises UserError for a query with no words, a bad library slug, or a docs
    site that cannot be reached; NotFoundError for an unknown library.
    """
    query = " ".join(query.split())
    if not any(ch.isalnum() for ch in query):
        raise UserError("The query has no words; try e.g. 'SFTTrainer packing' or 'LoRA rank'.")
    index = DocsIndex(index_path(settings), clock)
    if library is not None:
        library = library.strip().lower()
        if not LIBRARY_SLUG.match(library):
            raise UserError(
                f"{library!r} is not a docs library slug; use the name in "
                "huggingface.co/docs/<slug>, e.g. 'transformers', 'trl' or 'peft'."
            )
        libraries = [library]
    else:
        libraries = sorted(set(index.libraries()) | set(DEFAULT_LIBRARIES))
    notes: list[str] = []
    failures: list[UserError] = []
    with DocsSite(settings) as site:
        for library_name in libraries:
            try:
                notes += _ensure_indexed(
                    site, index, library_name, settings, progress, build_budget_s
                )
            except UserError as exc:
                if library is not None:
                    raise
                failures.append(exc)
                notes.append(f"{library_name} skipped: {exc}")
    searchable = [name for name in libraries if index.state(name) is not None]
    if failures and not searchable:
        raise failures[0]
    found = index.search(query, searchable, limit + 1, offset)
    more = len(found) > limit
    hits = [
        DocHit(**{**vars(hit), "snippet": strip_invisible(hit.snippet)}) for hit in found[:limit]
    ]
    hint = None
    if more:
        where = f", library={library!r}" if library else ""
        hint = f"More results: docs_search(query={query!r}{where}, offset={offset + limit})."
    return DocSearchResult(
        query=query,
        libraries=searchable,
        hits=hits,
        offset=offset,
        next_offset=offset + limit if more else None,
        hint=hint,
        notes=notes,
    )


def _ensure_indexed(
    site: DocsSite,
    index: DocsIndex,
    library: str,
    settings: Settings,
    progress: Progress | None,
    budget_s: float,
) -> list[str]:
    """Build or refresh ``library``'s index if it is missing or older than the TTL."""
    ttl = settings.docs_index_ttl_s
    if index.is_fresh(library, ttl):
        return []
    with _build_lock(index.path, library):
        if index.is_fresh(library, ttl):
            return []  # another call built it while this one waited
        previous = index.state(library)
        try:
            listed = site.list_library(library)
        except ServiceUnavailable as exc:
            if previous is None:
                raise
            return [_stale_note(index, library, previous.indexed_at, str(exc))]
        if not listed:
            raise UserError(
                f"The docs page of {library!r} ({site.library_url(library)}) lists no pages; "
                "the site layout may have changed. Use docs_search(url=...) on a known page URL instead."
            )
        pages = _read_pages(site, library, listed, progress, budget_s)
        readable = pages[:MAX_PAGES_WITH_CONTENT]
        failed = sum(page.markdown is None for page in readable)
        if previous is not None and failed > len(readable) // 2:
            # Most downloads failed mid-build: a half-empty index is worse than the old one.
            return [_stale_note(index, library, previous.indexed_at, "most pages failed to load")]
        index.replace_library(library, pages)
        if failed:
            return [f"{library}: {failed} page(s) could not be read; indexed by title only."]
        return []


def _stale_note(index: DocsIndex, library: str, indexed_at: float, reason: str) -> str:
    days = (index.clock() - indexed_at) / 86400
    return (
        f"{library}: using the index built {days:.1f} days ago; it could not be refreshed "
        f"({reason})."
    )


def _read_pages(
    site: DocsSite,
    library: str,
    listed: list[ListedPage],
    progress: Progress | None,
    budget_s: float,
) -> list[IndexedPage]:
    """Every listed page, with its markdown when it could be read in time (the first N pages)."""
    readable = listed[:MAX_PAGES_WITH_CONTENT]
    markdown: dict[str, str | None] = {}
    total = len(readable)
    pool = ThreadPoolExecutor(max_workers=FETCH_WORKERS, thread_name_prefix="docs-index")
    try:
        futures = {pool.submit(_try_markdown, site, page.url): page.url for page in readable}
        for done, future in enumerate(as_completed(futures, timeout=budget_s), start=1):
            markdown[futures[future]] = future.result()
            if progress and (done % PROGRESS_EVERY == 0 or done == total):
                progress(done, total, f"indexing {library} docs: {done}/{total} pages")
    except TimeoutError:
        pass  # pages still loading are indexed by title; the next refresh tries them again
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [
        IndexedPage(url=p.url, title=p.title, section=p.section, markdown=markdown.get(p.url))
        for p in listed
    ]


def _try_markdown(site: DocsSite, url: str) -> str | None:
    try:
        return site.markdown(url, not_found="")
    except UserError:
        return None  # indexed by title; docs_search(url=...) will report the real error if asked


def fetch_doc(
    settings: Settings,
    url: str,
    offset: int = 0,
    max_chars: int = 8000,
    clock: Clock = time.time,
) -> DocPage:
    """A window of one docs page as Markdown (cached), with headings to navigate.

    Raises UserError for a URL outside the Hugging Face docs, NotFoundError for a missing page
    (suggesting close ones).
    """
    with DocsSite(settings) as site:
        page_url = site.canonical(url)
        index = DocsIndex(index_path(settings), clock)
        cached = index.cached_page(page_url, settings.docs_index_ttl_s)
        if cached is not None:
            markdown = cached[0]
        else:
            try:
                markdown = site.markdown(page_url, not_found="")
            except NotFoundError:
                raise NotFoundError(_missing_page(site, index, page_url)) from None
            index.store_page(page_url, markdown)
    markdown = strip_invisible(markdown)
    window = page_text(
        markdown, offset=offset, max_chars=max_chars, continue_with=f"docs_search(url={page_url!r})"
    )
    title = next(
        (line[2:].strip() for line in markdown.splitlines() if line.startswith("# ")), None
    )
    return DocPage(
        url=page_url,
        markdown_url=page_url + ".md",
        title=title,
        cached=cached is not None,
        **window.model_dump(),
    )


def _missing_page(site: DocsSite, index: DocsIndex, page_url: str) -> str:
    relative = page_url.split(site.docs_root + "/", 1)[-1]
    library = relative.split("/", 1)[0]
    close = difflib.get_close_matches(page_url, index.urls(library), n=3, cutoff=0.6)
    if close:
        return f"No docs page at {page_url}. Did you mean: {', '.join(close)}?"
    return (
        f"No docs page at {page_url}. Find the right page with "
        f"docs_search(query='<what you need>', library={library!r})."
    )
