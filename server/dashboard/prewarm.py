"""Read the runs a person is about to look at before they click.

When the dashboard's overview lists a job for the first time, a background thread reads its
metrics through the experiments toolkit's own reader (the one every tool and view uses), one
job at a time, newest first. A long run is then in memory, and its parsed series saved to the
series cache, by the time its page is opened, instead of parsing while the person waits.
Nothing is computed here that the tools do not compute the same way; this only moves when.
While a page is being served the pass starts no new read, so the person's request does not
share the CPU with reads made on speculation.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.settings import Settings
    from server.state import StateStore

log = logging.getLogger(__name__)

MAX_REMEMBERED = 10_000  # job ids already queued once, so a long-lived server stays bounded
MAX_QUEUED = 100
MAX_YIELD_S = 5.0  # pages served back to back hold the pass back at most this long per job


class Prewarm:
    def __init__(self, settings: Settings, store: StateStore):
        self.settings = settings
        self.store = store
        self._seen: set[str] = set()
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._pages = 0  # being served now
        self._pages_done = threading.Condition(self._lock)
        self.yielded = 0  # times the pass waited for a page to be served

    @contextlib.contextmanager
    def page(self) -> Iterator[None]:
        """Around serving a page: no new background read starts meanwhile."""
        with self._lock:
            self._pages += 1
        try:
            yield
        finally:
            with self._lock:
                self._pages -= 1
                self._pages_done.notify_all()

    def jobs_listed(self, jobs: list[dict[str, Any]]) -> None:
        """Queue the listed jobs not seen before (the list is newest first)."""
        with self._lock:
            for job in jobs:
                job_id = job.get("job_id")
                if not isinstance(job_id, str) or job_id in self._seen:
                    continue
                if len(self._queue) >= MAX_QUEUED or len(self._seen) >= MAX_REMEMBERED:
                    break
                self._seen.add(job_id)
                self._queue.append(job_id)
            if self._queue and (self._worker is None or not self._worker.is_alive()):
                self._worker = threading.Thread(target=self._drain, name="prewarm", daemon=True)
                self._worker.start()

    def idle(self) -> bool:
        with self._lock:
            return not self._queue and (self._worker is None or not self._worker.is_alive())

    def _drain(self) -> None:
        from server.roots import Roots, in_force
        from toolkits.experiments.core import snapshot

        roots = Roots.for_settings(self.settings)
        while True:
            with self._lock:
                if self._pages:
                    self.yielded += 1
                    self._pages_done.wait_for(lambda: not self._pages, timeout=MAX_YIELD_S)
                if not self._queue:
                    return
                job_id = self._queue.popleft()
            try:
                with in_force(roots):  # as a tool call would: the same roots, the same home
                    snapshot(self.settings, self.store, job_id)
            except Exception as exc:  # no metrics yet, a vanished job: the page will say so
                log.debug("prewarm of %s skipped: %s", job_id, exc)
