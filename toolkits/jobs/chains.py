"""Restart chains: a job restarted by experiments_restart names its parent, so the jobs table
already holds every chain (root → ... → newest). This is the one place that walks it; watch,
experiments_check and experiments_restart use it to act on the newest job of a chain and to
say so when they were handed an older one."""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import NotFoundError
from server.state import StateStore

MAX_CHAIN = 1000  # a cycle cannot happen through the API; this bounds a corrupted table


@dataclass(frozen=True)
class ChainPosition:
    requested: str
    newest: str
    job_ids: list[str]  # root → ... → newest, through ``requested``

    @property
    def moved(self) -> bool:
        return self.newest != self.requested

    def note(self, verb: str = "acting on") -> str:
        """The sentence saying that an older job was given, and which job is used instead."""
        later = self.job_ids[self.job_ids.index(self.requested) :]
        return (
            f"{self.requested} was already restarted ({' → '.join(later)}); {verb} the newest "
            f"job of its chain, {self.newest}"
        )


def successor(store: StateStore, job_id: str) -> str | None:
    """The newest job restarted from ``job_id``, or None."""
    with store.reading() as conn:
        row = conn.execute(
            "SELECT job_id FROM jobs WHERE parent_job_id = ? ORDER BY created_at DESC, rowid DESC "
            "LIMIT 1",
            (job_id,),
        ).fetchone()
    return row["job_id"] if row else None


def _parent(store: StateStore, job_id: str) -> str | None:
    with store.reading() as conn:
        row = conn.execute("SELECT parent_job_id FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"No job {job_id!r}; list jobs with jobs_list.")
    return row["parent_job_id"]


def chain_of(store: StateStore, job_id: str) -> ChainPosition:
    """Where ``job_id`` stands in its restart chain: its ancestors and newest descendant."""
    ancestors = [job_id]
    parent = _parent(store, job_id)
    while parent is not None and len(ancestors) < MAX_CHAIN and parent not in ancestors:
        ancestors.append(parent)
        parent = _parent(store, parent)
    path = list(reversed(ancestors))
    current = job_id
    while len(path) < MAX_CHAIN:
        following = successor(store, current)
        if following is None or following in path:
            break
        path.append(following)
        current = following
    return ChainPosition(requested=job_id, newest=current, job_ids=path)
