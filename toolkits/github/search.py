"""Code search across GitHub (needs a token: GitHub answers code search only when signed in)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from server.errors import MissingCredentialError, UserError
from server.output_caps import clip_value
from server.settings import Settings
from server.untrusted import UntrustedContent, strip_invisible
from toolkits.github.client import Progress, github_token, no_progress, open_github
from toolkits.github.repos import parse_repo

if TYPE_CHECKING:
    from github.ContentFile import ContentFile

# GitHub serves the first 1000 results of a search and nothing past them.
SEARCH_WINDOW = 1000
# 30 hits x 3 fragments x 200 characters stay within the default 20,000-character output cap.
FRAGMENTS_PER_HIT = 3
FRAGMENT_CHARS = 200
_LANGUAGE = re.compile(r"^[A-Za-z0-9#+._ -]{1,40}$")


class CodeHit(BaseModel):
    repo: str
    path: str
    html_url: str | None = None
    fragments: list[str] = Field(default_factory=list, description="Matching snippets, cut.")


class CodeSearchResult(UntrustedContent):
    query: str = Field(description="The query sent to GitHub, qualifiers included.")
    total_count: int
    incomplete_results: bool = Field(description="GitHub timed out; there may be more hits.")
    offset: int
    hits: list[CodeHit]
    truncated: bool
    next_offset: int | None = None
    hint: str | None = None

    def render(self) -> str:
        shown = f"{self.offset + 1}-{self.offset + len(self.hits)}" if self.hits else "none"
        lines = [f"{self.total_count} code results for {self.query!r}; showing {shown}"]
        if self.incomplete_results:
            lines.append("(GitHub's search timed out: results may be incomplete)")
        for index, hit in enumerate(self.hits, self.offset + 1):
            lines.append(f"{index}. {hit.repo}:{hit.path}")
            lines += [f"     {fragment}" for fragment in hit.fragments]
        if self.hits:
            lines.append("Read a file with github_read_file(repo=..., path=...).")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def build_query(query: str, repo: str | None, language: str | None) -> str:
    parts = [query.strip()]
    if repo:
        parts.append(f"repo:{parse_repo(repo)}")
    if language:
        language = language.strip()
        if not _LANGUAGE.match(language):
            raise UserError(f"{language!r} is not a language name: use e.g. 'python'.")
        parts.append(f'language:"{language}"' if " " in language else f"language:{language}")
    return " ".join(part for part in parts if part)


def search_code(
    settings: Settings,
    query: str,
    repo: str | None = None,
    language: str | None = None,
    limit: int = 10,
    offset: int = 0,
    progress: Progress = no_progress,
) -> CodeSearchResult:
    """Hits ``offset..offset+limit`` of a GitHub code search, with matching fragments."""
    if not github_token(settings):
        raise MissingCredentialError(
            "GITHUB_TOKEN",
            "github_search_code (GitHub answers code search only for signed-in requests; a "
            "token without scopes will do, from https://github.com/settings/tokens). Without "
            "one, github_find_examples(repo, keyword) finds files by path",
        )
    if not query.strip():
        raise UserError("The query is empty: give words or identifiers to look for.")
    q = build_query(query, repo, language)
    if offset >= SEARCH_WINDOW:
        raise UserError(f"GitHub serves only the first {SEARCH_WINDOW} results; narrow the query.")
    limit = min(limit, SEARCH_WINDOW - offset)
    # Pages of ``limit`` hits: the window [offset, offset+limit) spans at most two of them.
    first_page, last_page = offset // limit, (offset + limit - 1) // limit
    last_page = min(last_page, SEARCH_WINDOW // limit - 1)
    with open_github(settings, per_page=limit) as gh:
        results = gh.search_code(q, highlight=True)
        items = []
        for page in range(first_page, last_page + 1):
            progress(page - first_page, last_page - first_page + 1, f"search page {page + 1}")
            found = results.get_page(page)
            items += found
            if len(found) < limit:
                break
        start = offset - first_page * limit
        window = items[start : start + limit]
        hits = [_hit(item) for item in window]
        total = results.totalCount
        incomplete = bool(results.incomplete_results)
    reachable = min(total, SEARCH_WINDOW)
    more = offset + len(hits) < reachable
    next_offset = offset + len(hits) if more else None
    hint = None
    if more:
        args = f"query={query!r}" + (f", repo={repo!r}" if repo else "")
        args += f", language={language!r}" if language else ""
        hint = f"More: github_search_code({args}, offset={next_offset})."
    return CodeSearchResult(
        query=q,
        total_count=total,
        incomplete_results=incomplete,
        offset=offset,
        hits=hits,
        truncated=more,
        next_offset=next_offset,
        hint=hint,
    )


def _hit(item: ContentFile) -> CodeHit:
    # text_matches is always present with the text-match media type that highlight=True asks
    # for; reading any field GitHub left out would fetch the whole file.
    matches: list[Any] = item.text_matches or []  # type: ignore[assignment]
    fragments = [
        clip_value(
            " ".join(strip_invisible(str(match.get("fragment", ""))).split()), FRAGMENT_CHARS
        )
        for match in matches[:FRAGMENTS_PER_HIT]
        if isinstance(match, dict)
    ]
    return CodeHit(
        repo=item.repository.full_name,
        path=item.path,
        html_url=item.html_url,
        fragments=[fragment for fragment in fragments if fragment],
    )
