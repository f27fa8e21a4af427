"""Sandboxes in the state store: what exists, with which limits, and when it was last used.

Destroyed sandboxes keep their row (status 'destroyed' and why), so a stale id gets an answer
that says what happened to it instead of a bare "not found".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from server.state import StateStore, dumps, loads
from toolkits.sandbox.backends.base import SandboxRef

COMPONENT = "sandbox"
MIGRATIONS = [
    """
    CREATE TABLE sandboxes (
        sandbox_id TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        status TEXT NOT NULL,
        isolation TEXT NOT NULL,
        network INTEGER NOT NULL,
        idle_timeout_s INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        cpu_s INTEGER NOT NULL,
        workspace TEXT NOT NULL,
        backend_state TEXT NOT NULL,
        limits TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_used_at REAL NOT NULL,
        ended_at REAL,
        end_reason TEXT
    );
    CREATE INDEX sandboxes_by_status ON sandboxes(status, last_used_at);
    """
]


@dataclass
class SandboxRecord:
    sandbox_id: str
    backend: str
    status: str  # 'active' | 'destroyed'
    isolation: str
    network: bool
    idle_timeout_s: int
    memory_mb: int
    cpu_s: int
    workspace: str
    created_at: float
    last_used_at: float
    backend_state: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    ended_at: float | None = None
    end_reason: str | None = None

    @property
    def idle_deadline(self) -> float:
        return self.last_used_at + self.idle_timeout_s

    def ref(self) -> SandboxRef:
        return SandboxRef(
            sandbox_id=self.sandbox_id,
            network=self.network,
            idle_timeout_s=self.idle_timeout_s,
            memory_mb=self.memory_mb,
            cpu_s=self.cpu_s,
            isolation=self.isolation,
            workspace=self.workspace,
            state=self.backend_state,
        )


def _from_row(row: Any) -> SandboxRecord:
    return SandboxRecord(
        sandbox_id=row["sandbox_id"],
        backend=row["backend"],
        status=row["status"],
        isolation=row["isolation"],
        network=bool(row["network"]),
        idle_timeout_s=row["idle_timeout_s"],
        memory_mb=row["memory_mb"],
        cpu_s=row["cpu_s"],
        workspace=row["workspace"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        backend_state=loads(row["backend_state"], {}),
        limits=loads(row["limits"], {}),
        ended_at=row["ended_at"],
        end_reason=row["end_reason"],
    )


class SandboxRecords:
    def __init__(self, store: StateStore):
        self.store = store

    def _ready(self) -> StateStore:
        self.store.migrate(COMPONENT, MIGRATIONS)
        return self.store

    def insert(self, record: SandboxRecord) -> None:
        with self._ready().transaction() as conn:
            conn.execute(
                "INSERT INTO sandboxes(sandbox_id, backend, status, isolation, network, "
                "idle_timeout_s, memory_mb, cpu_s, workspace, backend_state, limits, created_at, "
                "last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.sandbox_id,
                    record.backend,
                    record.status,
                    record.isolation,
                    int(record.network),
                    record.idle_timeout_s,
                    record.memory_mb,
                    record.cpu_s,
                    record.workspace,
                    dumps(record.backend_state),
                    dumps(record.limits),
                    record.created_at,
                    record.last_used_at,
                ),
            )

    def get(self, sandbox_id: str) -> SandboxRecord | None:
        with self._ready().reading() as conn:
            row = conn.execute(
                "SELECT * FROM sandboxes WHERE sandbox_id = ?", (sandbox_id,)
            ).fetchone()
        return _from_row(row) if row else None

    def active(self, limit: int = 1000) -> list[SandboxRecord]:
        with self._ready().reading() as conn:
            rows = conn.execute(
                "SELECT * FROM sandboxes WHERE status = 'active' ORDER BY created_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_from_row(row) for row in rows]

    def recent(self, limit: int) -> list[SandboxRecord]:
        with self._ready().reading() as conn:
            rows = conn.execute(
                "SELECT * FROM sandboxes ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_from_row(row) for row in rows]

    def count_active(self) -> int:
        with self._ready().reading() as conn:
            return conn.execute(
                "SELECT COUNT(*) FROM sandboxes WHERE status = 'active'"
            ).fetchone()[0]

    def expired(self, now: float) -> list[SandboxRecord]:
        with self._ready().reading() as conn:
            rows = conn.execute(
                "SELECT * FROM sandboxes WHERE status = 'active' AND last_used_at + idle_timeout_s < ?",
                (now,),
            ).fetchall()
        return [_from_row(row) for row in rows]

    def claim(self, sandbox_id: str, now: float) -> SandboxRecord | None:
        """The sandbox, marked used now when it is active and not yet idle past its timeout.

        One transaction for the lookup every call makes and the touch it implies: this is on
        the path of every exec.
        """
        with self._ready().transaction() as conn:
            row = conn.execute(
                "SELECT * FROM sandboxes WHERE sandbox_id = ?", (sandbox_id,)
            ).fetchone()
            if row is None:
                return None
            record = _from_row(row)
            if record.status == "active" and record.idle_deadline >= now:
                conn.execute(
                    "UPDATE sandboxes SET last_used_at = ? WHERE sandbox_id = ?", (now, sandbox_id)
                )
                record.last_used_at = now
        return record

    def touch(self, sandbox_id: str, now: float | None = None) -> None:
        with self._ready().transaction() as conn:
            conn.execute(
                "UPDATE sandboxes SET last_used_at = ? WHERE sandbox_id = ? AND status = 'active'",
                (now or time.time(), sandbox_id),
            )

    def mark_destroyed(self, sandbox_id: str, reason: str) -> bool:
        """True when this call ended the sandbox (False: it was already destroyed)."""
        with self._ready().transaction() as conn:
            cursor = conn.execute(
                "UPDATE sandboxes SET status = 'destroyed', ended_at = ?, end_reason = ? "
                "WHERE sandbox_id = ? AND status = 'active'",
                (time.time(), reason, sandbox_id),
            )
            return cursor.rowcount == 1
