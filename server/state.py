"""The state store: one SQLite file under MLINTERN_HOME.

WAL mode lets readers run while one writer writes; ``BEGIN IMMEDIATE`` plus a busy timeout makes
concurrent writers from several threads and processes queue instead of failing. Each component
(plan, jobs, sandbox, ...) owns a list of forward migrations, applied once and recorded in
``schema_versions``; the component's own module declares them, so adding a table touches only
that module.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from server.errors import UserError
from server.private import private_file
from server.redact import Redactor

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

_CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""


class _RedactingConnection(sqlite3.Connection):
    """Every string written by INSERT/UPDATE/REPLACE passes through ``server.redact`` first, so
    no component can put a credential into the state file (job specs, run events, journals)."""

    redactor: Redactor

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        return super().execute(sql, self._clean(sql, parameters))

    def executemany(self, sql: str, seq: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        return super().executemany(sql, [self._clean(sql, p) for p in seq])

    def _clean(self, sql: str, parameters: Any) -> Any:
        if not parameters or not _WRITES.match(sql):
            return parameters
        if isinstance(parameters, dict):
            return {k: self._value(v) for k, v in parameters.items()}
        return tuple(self._value(v) for v in parameters)

    def _value(self, value: Any) -> Any:
        return self.redactor(value) if isinstance(value, str) else value


_WRITES = re.compile(r"\s*(INSERT|UPDATE|REPLACE)\b", re.IGNORECASE)


class StateStore:
    """Thread- and process-safe access to the SQLite state file."""

    def __init__(self, path: Path, secret_values: Sequence[str] = ()):
        self.path = Path(path)
        self._secret_values = tuple(secret_values)
        # SQLite gives the -wal and -shm files the mode of the database file: 0600 for all three.
        private_file(self.path)
        self._migrated: dict[str, int] = {}
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_CORE_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # A fresh connection per unit of work: cheap for SQLite, and it sidesteps sharing a
        # connection across the threads fastmcp runs sync tools in.
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
            factory=_RedactingConnection,
        )
        conn.redactor = Redactor(self._secret_values)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read-only view (a consistent snapshot for the duration of the block)."""
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            yield conn
            conn.execute("COMMIT")
        finally:
            conn.close()

    def migrate(self, component: str, migrations: Sequence[str]) -> int:
        """Apply the not-yet-applied ``migrations`` of ``component`` in order.

        ``migrations[i]`` takes the component from version i to i+1. Returns the version now in
        force. A state file written by a newer mlintern is refused rather than misread.
        """
        target = len(migrations)
        if self._migrated.get(component) == target:
            return target
        with self._lock, self.transaction() as conn:
            row = conn.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
            current = row["version"] if row else 0
            if current > target:
                raise UserError(
                    f"The state file {self.path} holds '{component}' schema version {current}, "
                    f"newer than this mlintern understands ({target}). Upgrade mlintern, or "
                    f"point MLINTERN_HOME at another directory."
                )
            for version in range(current, target):
                log.info("migrating %s schema to version %d", component, version + 1)
                for statement in _split_statements(migrations[version]):
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_versions(component, version, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(component) DO UPDATE SET version=excluded.version, "
                "updated_at=excluded.updated_at",
                (component, target, time.time()),
            )
        self._migrated[component] = target
        return target

    def schema_version(self, component: str) -> int:
        with self.reading() as conn:
            row = conn.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
        return row["version"] if row else 0


def _split_statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit implicitly)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def dumps(value: Any) -> str:
    """JSON for a TEXT column (compact, stable key order)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(text: str | None, default: Any = None) -> Any:
    return default if text is None else json.loads(text)
