"""Agent runs in the shared SQLite store: one row per run, plus its event log.

A run row names the process that drives it (``owner``: pid and that process's start time), so
a later server can tell a run whose process died (SIGKILL, power loss) from one another live
server is still driving; the dead ones become ``interrupted`` and can be resumed from their
saved session.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from server.errors import NotFoundError
from server.state import StateStore, dumps, loads
from toolkits.tasks.statuses import LIVE_STATUSES

MIGRATIONS = [
    """
    CREATE TABLE agent_runs (
        run_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        task TEXT NOT NULL,
        status TEXT NOT NULL,
        params TEXT NOT NULL,
        session_id TEXT,
        owner TEXT,
        pending TEXT NOT NULL DEFAULT '[]',
        result TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX agent_runs_by_status ON agent_runs(status);
    CREATE TABLE agent_run_events (
        run_id TEXT NOT NULL REFERENCES agent_runs(run_id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        summary TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    """
]


class StoredEvent(BaseModel):
    seq: int
    at: float
    kind: str
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)


class RunRecord(BaseModel):
    run_id: str
    kind: str
    task: str
    status: str
    params: dict[str, Any]
    session_id: str | None
    owner: str | None
    pending: list[dict[str, Any]]
    result: dict[str, Any] | None
    created_at: float
    updated_at: float
    last_seq: int = 0


def new_run_id() -> str:
    return f"run-{secrets.token_hex(5)}"


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), which tells a live process from a pid reused
    by another one after the first died; None where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so count from its closing ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> str:
    pid = os.getpid()
    return f"{pid}:{process_start_time(pid) or '?'}"


def process_alive(owner: str) -> bool:
    pid_text, _, started = owner.partition(":")
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return started in ("", "?") or process_start_time(pid) == started


class RunStore:
    def __init__(self, state: StateStore):
        self.state = state
        state.migrate("agent_runs", MIGRATIONS)
        self.owner = this_process()

    # --- runs -----------------------------------------------------------------------------
    def create(self, kind: str, task: str, params: dict[str, Any]) -> RunRecord:
        run_id = new_run_id()
        now = time.time()
        with self.state.transaction() as conn:
            conn.execute(
                "INSERT INTO agent_runs(run_id, kind, task, status, params, owner, created_at, "
                "updated_at) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (run_id, kind, task, dumps(params), self.owner, now, now),
            )
        return self.get(run_id)

    def get(self, run_id: str) -> RunRecord:
        with self.state.reading() as conn:
            row = conn.execute("SELECT * FROM agent_runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                recent = [
                    r["run_id"]
                    for r in conn.execute(
                        "SELECT run_id FROM agent_runs ORDER BY created_at DESC LIMIT 5"
                    )
                ]
                raise NotFoundError(
                    f"No run {run_id!r}. Recent runs: {', '.join(recent) or 'none yet'}. "
                    "run_ml_task(detach=True) returns a run_id."
                )
            last = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM agent_run_events WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
        return RunRecord(
            run_id=row["run_id"],
            kind=row["kind"],
            task=row["task"],
            status=row["status"],
            params=loads(row["params"], {}),
            session_id=row["session_id"],
            owner=row["owner"],
            pending=loads(row["pending"], []),
            result=loads(row["result"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            last_seq=last,
        )

    def update(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run; dict/list values are stored as JSON."""
        allowed = {"status", "params", "session_id", "owner", "pending", "result"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        columns = ", ".join(f"{name} = ?" for name in fields)
        values = [dumps(v) if isinstance(v, dict | list) else v for v in fields.values()]
        with self.state.transaction() as conn:
            conn.execute(
                f"UPDATE agent_runs SET {columns}, updated_at = ? WHERE run_id = ?",
                (*values, time.time(), run_id),
            )

    def claim(self, run_id: str) -> None:
        """This process drives the run from now on (a resume)."""
        self.update(run_id, status="running", owner=self.owner, pending=[], result=None)

    def mark_orphans_interrupted(self) -> list[str]:
        """Runs left 'running' by a process that no longer exists become 'interrupted'."""
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT run_id, owner FROM agent_runs WHERE status IN (?, ?)", LIVE_STATUSES
            ).fetchall()
        orphans = [
            r["run_id"]
            for r in rows
            if r["owner"] != self.owner and not process_alive(r["owner"] or "")
        ]
        for run_id in orphans:
            self.update(run_id, status="interrupted", pending=[])
        return orphans

    # --- events ---------------------------------------------------------------------------
    def add_event(
        self, run_id: str, kind: str, summary: str, data: dict[str, Any], at: float
    ) -> int:
        with self.state.transaction() as conn:
            seq = (
                conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM agent_run_events WHERE run_id = ?",
                    (run_id,),
                ).fetchone()[0]
                + 1
            )
            conn.execute(
                "INSERT INTO agent_run_events(run_id, seq, at, kind, summary, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, seq, at, kind, summary, dumps(data)),
            )
        return seq

    def events(self, run_id: str, since: int = 0, limit: int = 50) -> list[StoredEvent]:
        with self.state.reading() as conn:
            rows = conn.execute(
                "SELECT seq, at, kind, summary, data FROM agent_run_events "
                "WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, since, limit),
            ).fetchall()
        return [_stored_event(row) for row in rows]

    def events_of(self, run_id: str, kinds: tuple[str, ...]) -> list[StoredEvent]:
        """Every event of the given kinds (for the report: tool calls, outputs, decisions)."""
        marks = ", ".join("?" for _ in kinds)
        with self.state.reading() as conn:
            rows = conn.execute(
                f"SELECT seq, at, kind, summary, data FROM agent_run_events "
                f"WHERE run_id = ? AND kind IN ({marks}) ORDER BY seq",
                (run_id, *kinds),
            ).fetchall()
        return [_stored_event(row) for row in rows]


def _stored_event(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(
        seq=row["seq"],
        at=row["at"],
        kind=row["kind"],
        summary=row["summary"],
        data=loads(row["data"], {}),
    )
