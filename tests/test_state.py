"""The SQLite state store: WAL, forward migrations, concurrent writers across processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from server.errors import UserError
from server.state import StateStore

COUNTER = ["CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"]


def test_wal_mode_and_schema_versions(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite3")
    with store.reading() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version("counter") == 0
    assert store.migrate("counter", COUNTER) == 1
    assert store.schema_version("counter") == 1


def test_migrations_apply_forward_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    v1 = ["CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);"]
    StateStore(path).migrate("notes", v1)
    with StateStore(path).transaction() as conn:
        conn.execute("INSERT INTO notes(text) VALUES ('kept')")
    v2 = [*v1, "ALTER TABLE notes ADD COLUMN tag TEXT;\nUPDATE notes SET tag = 'old';"]
    store = StateStore(path)  # a newer program opening the same file
    assert store.migrate("notes", v2) == 2
    assert store.migrate("notes", v2) == 2  # idempotent
    with store.reading() as conn:
        assert [tuple(r) for r in conn.execute("SELECT text, tag FROM notes")] == [("kept", "old")]


def test_state_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    StateStore(path).migrate("notes", ["CREATE TABLE a (x);", "CREATE TABLE b (x);"])
    with pytest.raises(UserError, match="newer than this mlintern understands"):
        StateStore(path).migrate("notes", ["CREATE TABLE a (x);"])


def test_failed_transaction_leaves_nothing_half_written(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite3")
    store.migrate("counter", COUNTER)
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as conn:
        conn.execute("INSERT INTO counter(id, n) VALUES (1, 1)")
        conn.execute("INSERT INTO counter(id, n) VALUES (1, 2)")  # duplicate key
    with store.reading() as conn:
        assert conn.execute("SELECT COUNT(*) FROM counter").fetchone()[0] == 0


def _increment(path: str, times: int) -> None:
    store = StateStore(Path(path))
    store.migrate("counter", COUNTER)
    for _ in range(times):
        with store.transaction() as conn:
            row = conn.execute("SELECT n FROM counter WHERE id = 1").fetchone()
            n = row["n"] if row else 0
            conn.execute("INSERT OR REPLACE INTO counter(id, n) VALUES (1, ?)", (n + 1,))


def test_concurrent_writers_threads_and_processes_lose_no_update(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite3")
    StateStore(Path(path)).migrate("counter", COUNTER)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_increment, args=(path, 50)) for _ in range(3)]
    for proc in procs:
        proc.start()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: _increment(path, 50), range(4)))
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    with StateStore(Path(path)).reading() as conn:
        assert conn.execute("SELECT n FROM counter WHERE id = 1").fetchone()[0] == 7 * 50
