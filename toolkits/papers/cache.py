"""Remote answers kept in the state store, so repeated and paged calls stay off the network.

Semantic Scholar rate-limits anonymous callers hard, and an arXiv HTML page is megabytes that
parse into the same sections every time: both are worth keeping for a while.
"""

from __future__ import annotations

import time
from typing import Any

from server.state import StateStore, dumps, loads

MIGRATIONS = [
    """
    CREATE TABLE papers_remote_cache (
        key TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        fetched_at REAL NOT NULL
    );
    """
]

# Entries this old are dropped whatever their TTL, so the state file does not grow forever.
PRUNE_AFTER_S = 30 * 24 * 3600


class RemoteCache:
    def __init__(self, store: StateStore):
        self.store = store
        store.migrate("papers", MIGRATIONS)

    def get(self, key: str, max_age_s: float) -> tuple[Any, float] | None:
        """The cached value and when it was fetched, if younger than ``max_age_s``."""
        with self.store.reading() as conn:
            row = conn.execute(
                "SELECT body, fetched_at FROM papers_remote_cache WHERE key = ?", (key,)
            ).fetchone()
        if row is None or time.time() - row["fetched_at"] > max_age_s:
            return None
        return loads(row["body"]), row["fetched_at"]

    def put(self, key: str, value: Any) -> float:
        now = time.time()
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO papers_remote_cache(key, body, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET body=excluded.body, fetched_at=excluded.fetched_at",
                (key, dumps(value), now),
            )
            conn.execute(
                "DELETE FROM papers_remote_cache WHERE fetched_at < ?", (now - PRUNE_AFTER_S,)
            )
        return now
