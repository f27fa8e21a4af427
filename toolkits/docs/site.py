"""The Hugging Face documentation site: which URLs we may fetch, page markdown, library listings.

Only documentation hosts on an allowlist are fetched (the host of ``Settings.docs_url`` plus
huggingface.co), and only under their docs path; redirects are followed by hand so that each hop
is checked too. No credential is ever attached: the docs are public, and the HF token belongs to
the Hub API alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import httpx

from server.errors import NotFoundError, UserError
from server.settings import Settings
from toolkits import _remote as remote

PUBLIC_DOCS_HOST = "huggingface.co"
MAX_REDIRECTS = 5
LIBRARY_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class ListedPage:
    url: str  # canonical page URL: absolute, no ".md", no fragment or query
    title: str
    section: str


class DocsSite:
    def __init__(self, settings: Settings):
        parts = urlsplit(settings.docs_url.rstrip("/"))
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.docs_root = parts.path or "/docs"
        self.service = remote.Service(
            name="the Hugging Face docs site",
            base_url=settings.docs_url,
            url_setting="MLINTERN_DOCS_URL",
            timeout_s=settings.http_timeout_s,
        )
        # Roots a docs URL may live under: the configured site, and the public docs.
        self.allowed_roots = {
            (parts.scheme, parts.netloc.lower()): self.docs_root,
            ("https", PUBLIC_DOCS_HOST): "/docs",
        }
        self.http = remote.client(self.service)  # no Authorization header, ever

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DocsSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- URLs -----------------------------------------------------------------------------
    def library_url(self, library: str) -> str:
        return f"{self.origin}{self.docs_root}/{library}"

    def canonical(self, raw: str) -> str:
        """An absolute docs page URL without '.md', fragment or query; refuse other hosts."""
        text = raw.strip()
        if text.startswith(("huggingface.co/", "www.huggingface.co/")):
            text = "https://" + text
        if "://" not in text:
            # "trl/sft_trainer" or "/docs/trl/sft_trainer": relative to the docs site.
            path = text if text.startswith(self.docs_root + "/") else None
            text = self.origin + (path or f"{self.docs_root}/{text.lstrip('/')}")
        parts = urlsplit(text)
        netloc = parts.netloc.lower().removeprefix("www.")
        scheme = "https" if netloc == PUBLIC_DOCS_HOST else parts.scheme.lower()
        path = parts.path.removesuffix(".md").rstrip("/")
        self.check_allowed(scheme, netloc, path, raw)
        return urlunsplit((scheme, netloc, path, "", ""))

    def check_allowed(self, scheme: str, netloc: str, path: str, shown: str) -> None:
        root = self.allowed_roots.get((scheme, netloc))
        # Decoded before the checks: "%2e%2e" must not smuggle a ".." past them.
        path = unquote(path)
        if root is None or not (path == root or path.startswith(root + "/")) or ".." in path:
            allowed = ", ".join(f"{s}://{h}{r}/" for (s, h), r in self.allowed_roots.items())
            raise UserError(
                f"{shown!r} is not a Hugging Face documentation page; docs_search(url=...) only reads "
                f"pages under {allowed}. Find a page with docs_search(query=...)."
            )

    # --- fetching -------------------------------------------------------------------------
    def get(self, url: str, not_found: str) -> httpx.Response:
        """GET an allowed URL, following redirects only to allowed URLs."""
        for _ in range(MAX_REDIRECTS + 1):
            response = remote.with_retries(lambda u=url: self.http.get(u), self.service)
            if response.status_code not in (301, 302, 303, 307, 308):
                remote.raise_for_status(
                    response.status_code, response.headers, response.text, self.service, not_found
                )
                return response
            target = urljoin(url, response.headers.get("location", ""))
            parts = urlsplit(target)
            self.check_allowed(
                parts.scheme, parts.netloc.lower(), parts.path.removesuffix(".md"), target
            )
            url = target
        raise UserError(f"{url} redirects more than {MAX_REDIRECTS} times; try docs_search.")

    def markdown(self, page_url: str, not_found: str) -> str:
        return self.get(page_url + ".md", not_found).text

    def list_library(self, library: str) -> list[ListedPage]:
        """The pages of a library, from its sidebar, in sidebar order."""
        try:
            response = self.get(self.library_url(library), not_found="")
        except NotFoundError:
            # Only now is it worth a second request, for the list of libraries that do exist.
            raise NotFoundError(self._unknown_library(library)) from None
        page_url = str(response.url)
        parser = _SidebarParser()
        parser.feed(response.text)
        links = parser.sidebar_links or parser.all_links
        prefix = f"{self.docs_root}/{library}/"
        pages: dict[str, ListedPage] = {}
        for href, title, section in links:
            absolute = urlsplit(urljoin(page_url, href))
            path = absolute.path.removesuffix(".md").rstrip("/")
            if absolute.netloc.lower() != urlsplit(page_url).netloc.lower():
                continue
            if not path.startswith(prefix) or not title:
                continue
            url = urlunsplit((absolute.scheme, absolute.netloc.lower(), path, "", ""))
            pages.setdefault(url, ListedPage(url=url, title=title, section=section))
        return list(pages.values())

    def libraries(self) -> list[str]:
        """Library slugs the docs landing page links to (empty if it cannot be read)."""
        try:
            response = self.get(f"{self.origin}{self.docs_root}", not_found="")
        except UserError:
            return []
        pattern = re.compile(
            rf'href="(?:{re.escape(self.origin)})?{re.escape(self.docs_root)}/([^/"#?]+)"'
        )
        return sorted({slug for slug in pattern.findall(response.text) if LIBRARY_SLUG.match(slug)})

    def _unknown_library(self, library: str) -> str:
        import difflib

        known = self.libraries()
        close = difflib.get_close_matches(library, known, n=3, cutoff=0.5)
        suggestion = f" Did you mean {', '.join(close)}?" if close else ""
        listing = f" Libraries: {', '.join(known[:40])}." if known else ""
        return (
            f"No documentation for library {library!r} at {self.library_url(library)}."
            f"{suggestion}{listing} Use the slug from huggingface.co/docs/<slug>."
        )


class _SidebarParser(HTMLParser):
    """Links of the docs sidebar (``nav`` with class ``flex-auto``) with their section labels."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sidebar_links: list[tuple[str, str, str]] = []
        self.all_links: list[tuple[str, str, str]] = []
        self._nav_depth = 0  # >0 while inside the sidebar nav
        self._href: str | None = None
        self._text: list[str] = []
        self._heading: list[str] | None = None
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "nav":
            classes = (attributes.get("class") or "").split()
            if self._nav_depth or "flex-auto" in classes:
                self._nav_depth += 1
        elif tag == "a" and attributes.get("href"):
            self._href, self._text = attributes["href"], []
        elif self._nav_depth and tag in ("h2", "h3", "h4", "h5"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._nav_depth:
            self._nav_depth -= 1
        elif tag == "a" and self._href is not None:
            link = (self._href, " ".join("".join(self._text).split()), self._section)
            self.all_links.append(link)
            if self._nav_depth:
                self.sidebar_links.append(link)
            self._href = None
        elif tag in ("h2", "h3", "h4", "h5") and self._heading is not None:
            self._section = " ".join("".join(self._heading).split())
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)
        elif self._heading is not None:
            self._heading.append(data)
