"""Jobs in the shared SQLite store: one row per job, the spec as JSON (secret names only)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager

from server.errors import NotFoundError
from server.state import StateStore, dumps, loads
from toolkits.jobs.models import ACTIVE_STATUSES, JobRecord, JobSpec, JobUpdate

MIGRATIONS = [
    """
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        status TEXT NOT NULL,
        name TEXT,
        spec TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        exit_code INTEGER,
        message TEXT,
        job_dir TEXT NOT NULL,
        log_dir TEXT,
        parent_job_id TEXT,
        url TEXT,
        remote_id TEXT,
        working_dir TEXT,
        hardware TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        handle TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL
    );
    CREATE INDEX jobs_by_backend_status ON jobs(backend, status);
    CREATE INDEX jobs_by_created ON jobs(created_at);
    """
]

_UPDATABLE = (
    "status",
    "started_at",
    "ended_at",
    "exit_code",
    "message",
    "url",
    "remote_id",
    "working_dir",
    "hardware",
)


class JobStore:
    """Typed access to the ``jobs`` table. Methods taking ``conn`` run inside the caller's
    transaction, so a read-decide-write sequence (claiming a queue slot) stays atomic."""

    def __init__(self, state: StateStore):
        self.state = state
        state.migrate("jobs", MIGRATIONS)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.state.transaction()

    def reading(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.state.reading()

    # --- writes ---------------------------------------------------------------------------
    def insert(self, conn: sqlite3.Connection, job: JobRecord) -> None:
        conn.execute(
            "INSERT INTO jobs(job_id, backend, status, name, spec, labels, created_at, "
            "started_at, ended_at, exit_code, message, job_dir, log_dir, parent_job_id, url, "
            "remote_id, working_dir, hardware, cancel_requested, handle, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.job_id,
                job.backend,
                job.status,
                job.spec.name,
                job.spec.model_dump_json(),
                dumps(job.spec.labels),
                job.created_at,
                job.started_at,
                job.ended_at,
                job.exit_code,
                job.message,
                job.job_dir,
                job.log_dir,
                job.parent_job_id,
                job.url,
                job.remote_id,
                job.working_dir,
                job.hardware,
                int(job.cancel_requested),
                dumps(job.handle),
                time.time(),
            ),
        )

    def update(self, conn: sqlite3.Connection, job_id: str, update: JobUpdate) -> JobRecord:
        current = self.get(conn, job_id)
        # Only what differs: a poll that learns nothing new writes nothing.
        values = {
            k: getattr(update, k)
            for k in _UPDATABLE
            if getattr(update, k) is not None and getattr(update, k) != getattr(current, k)
        }
        if update.handle is not None and {**current.handle, **update.handle} != current.handle:
            values["handle"] = dumps({**current.handle, **update.handle})
        if values:
            values["updated_at"] = time.time()
            columns = ", ".join(f"{name} = ?" for name in values)
            conn.execute(f"UPDATE jobs SET {columns} WHERE job_id = ?", (*values.values(), job_id))
            return self.get(conn, job_id)
        return current

    def mark_cancel_requested(self, conn: sqlite3.Connection, job_id: str) -> None:
        conn.execute(
            "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE job_id = ?",
            (time.time(), job_id),
        )

    def delete(self, conn: sqlite3.Connection, job_id: str) -> None:
        conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))

    # --- reads ----------------------------------------------------------------------------
    def get(self, conn: sqlite3.Connection, job_id: str) -> JobRecord:
        row = conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"No job {job_id!r}. List known jobs with jobs_list, or submit one with "
                "jobs_submit."
            )
        return _to_record(row)

    def active(self, conn: sqlite3.Connection, backend: str) -> list[JobRecord]:
        """Queued and running jobs of one backend, oldest first (queue order)."""
        rows = conn.execute(
            "SELECT * FROM jobs WHERE backend = ? AND status IN (?, ?) ORDER BY created_at, rowid",
            (backend, *sorted(ACTIVE_STATUSES)),
        )
        return [_to_record(row) for row in rows]

    def count_active(self, conn: sqlite3.Connection, backend: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM jobs WHERE status IN (?, ?)"
        args: list[object] = [*sorted(ACTIVE_STATUSES)]
        if backend is not None:
            sql += " AND backend = ?"
            args.append(backend)
        return conn.execute(sql, args).fetchone()[0]

    def select(
        self,
        conn: sqlite3.Connection,
        *,
        statuses: Iterable[str] = (),
        backend: str | None = None,
        labels: dict[str, str | None] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[JobRecord], int]:
        """Newest first; returns one page and the number of jobs matching in total."""
        where: list[str] = []
        args: list[object] = []
        statuses = list(statuses)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += statuses
        if backend is not None:
            where.append("backend = ?")
            args.append(backend)
        for key, value in (labels or {}).items():
            path = f'$."{key}"'  # keys are validated against LABEL_PATTERN: no quote inside
            if value is None:
                where.append("json_extract(labels, ?) IS NOT NULL")
                args.append(path)
            else:
                where.append("json_extract(labels, ?) = ?")
                args += [path, value]
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = conn.execute(f"SELECT COUNT(*) FROM jobs{clause}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT * FROM jobs{clause} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [_to_record(row) for row in rows], total


def _to_record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        job_id=row["job_id"],
        backend=row["backend"],
        status=row["status"],
        spec=JobSpec.model_validate_json(row["spec"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        exit_code=row["exit_code"],
        message=row["message"],
        job_dir=row["job_dir"],
        log_dir=row["log_dir"],
        parent_job_id=row["parent_job_id"],
        url=row["url"],
        remote_id=row["remote_id"],
        working_dir=row["working_dir"],
        hardware=row["hardware"],
        cancel_requested=bool(row["cancel_requested"]),
        handle=loads(row["handle"], {}),
    )
