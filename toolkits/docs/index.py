"""The on-disk docs index: SQLite FTS5 with BM25 ranking, one file under MLINTERN_HOME/cache.

It is a cache, not state: it lives apart from the state store, can be deleted at any time, and
is rebuilt when its schema changes. Each library's pages are replaced together, so a search
never sees half of an old index and half of a new one. Page markdown is kept too, so docs_search(url=...)
pages through a long page without downloading it again.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
# Weights of the indexed columns for bm25(): a hit in the title says more than one in the body.
WEIGHTS = {"title": 8.0, "section": 2.0, "headings": 4.0, "body": 1.0}
MAX_BODY_CHARS = 100_000

_SCHEMA = f"""
CREATE TABLE libraries (
    library TEXT PRIMARY KEY,
    indexed_at REAL NOT NULL,
    pages INTEGER NOT NULL,
    unread INTEGER NOT NULL
);
CREATE TABLE pages (
    url TEXT PRIMARY KEY,
    markdown TEXT NOT NULL,
    fetched_at REAL NOT NULL
);
CREATE VIRTUAL TABLE docs_fts USING fts5(
    library UNINDEXED, url UNINDEXED, title, section, headings, body,
    tokenize = 'porter unicode61'
);
PRAGMA user_version = {SCHEMA_VERSION};
"""


@dataclass(frozen=True)
class IndexedPage:
    url: str
    title: str
    section: str
    markdown: str | None  # None when the page could not be read: indexed by title only


@dataclass(frozen=True)
class Hit:
    library: str
    url: str
    title: str
    section: str
    snippet: str
    score: float


@dataclass(frozen=True)
class LibraryState:
    library: str
    indexed_at: float
    pages: int
    unread: int


class DocsIndex:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path = path
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._recreate(conn)

    def _recreate(self, conn: sqlite3.Connection) -> None:
        # A cache: on a schema change, start over rather than migrate.
        for table in ("docs_fts", "libraries", "pages"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            yield conn
        finally:
            conn.close()

    # --- freshness -----------------------------------------------------------------------
    def state(self, library: str) -> LibraryState | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT library, indexed_at, pages, unread FROM libraries WHERE library = ?",
                (library,),
            ).fetchone()
        return LibraryState(*row) if row else None

    def libraries(self) -> list[str]:
        with self._connect() as conn:
            return [r[0] for r in conn.execute("SELECT library FROM libraries ORDER BY library")]

    def is_fresh(self, library: str, ttl_s: float) -> bool:
        state = self.state(library)
        return state is not None and self.clock() - state.indexed_at < ttl_s

    # --- writing -------------------------------------------------------------------------
    def replace_library(self, library: str, pages: list[IndexedPage]) -> LibraryState:
        now = self.clock()
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM docs_fts WHERE library = ?", (library,))
                for page in pages:
                    body = (page.markdown or "")[:MAX_BODY_CHARS]
                    conn.execute(
                        "INSERT INTO docs_fts(library, url, title, section, headings, body) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (library, page.url, page.title, page.section, _headings(body), body),
                    )
                    if page.markdown is not None:
                        self._store_page(conn, page.url, page.markdown, now)
                unread = sum(page.markdown is None for page in pages)
                conn.execute(
                    "INSERT INTO libraries(library, indexed_at, pages, unread) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(library) DO UPDATE SET indexed_at=excluded.indexed_at, "
                    "pages=excluded.pages, unread=excluded.unread",
                    (library, now, len(pages), unread),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return LibraryState(library, now, len(pages), unread)

    def store_page(self, url: str, markdown: str) -> float:
        now = self.clock()
        with self._connect() as conn:
            self._store_page(conn, url, markdown, now)
        return now

    @staticmethod
    def _store_page(conn: sqlite3.Connection, url: str, markdown: str, now: float) -> None:
        conn.execute(
            "INSERT INTO pages(url, markdown, fetched_at) VALUES (?, ?, ?) ON CONFLICT(url) "
            "DO UPDATE SET markdown=excluded.markdown, fetched_at=excluded.fetched_at",
            (url, markdown, now),
        )

    # --- reading -------------------------------------------------------------------------
    def cached_page(self, url: str, ttl_s: float) -> tuple[str, float] | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT markdown, fetched_at FROM pages WHERE url = ?", (url,)
            ).fetchone()
        if row is None or self.clock() - row[1] >= ttl_s:
            return None
        return row[0], row[1]

    def search(self, query: str, libraries: list[str], limit: int, offset: int) -> list[Hit]:
        match = fts_query(query)
        if not match or not libraries:
            return []
        weights = ", ".join(str(w) for w in WEIGHTS.values())
        marks = ", ".join("?" for _ in libraries)
        sql = (
            f"SELECT library, url, title, section, "
            f"snippet(docs_fts, -1, '**', '**', ' … ', 24), bm25(docs_fts, 0, 0, {weights}) "
            f"FROM docs_fts WHERE docs_fts MATCH ? AND library IN ({marks}) "
            f"ORDER BY bm25(docs_fts, 0, 0, {weights}) LIMIT ? OFFSET ?"
        )
        with self._connect() as conn:
            rows = conn.execute(sql, (match, *libraries, limit, offset)).fetchall()
        return [Hit(r[0], r[1], r[2], r[3], " ".join(r[4].split()), -r[5]) for r in rows]

    def urls(self, library: str) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute("SELECT url FROM docs_fts WHERE library = ?", (library,))
            return [r[0] for r in rows]


def fts_query(text: str) -> str:
    """Any-term FTS5 query: every word quoted (no operator injection), ranked by BM25."""
    words = re.findall(r"\w+", text.lower())
    return " OR ".join(f'"{word}"' for word in dict.fromkeys(words))


def _headings(markdown: str) -> str:
    """Markdown headings, outside code blocks (where '#' starts a comment)."""
    headings, in_code = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            headings.append(line.lstrip("#").strip())
    return "\n".join(headings)
