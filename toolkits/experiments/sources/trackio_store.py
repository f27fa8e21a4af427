"""trackio's local store: one SQLite file per project under the trackio directory.

Read straight from the ``metrics`` table (``id, run_id, run_name, step, timestamp, metrics``
with ``metrics`` a JSON object), so no trackio import is needed and a re-read fetches only rows
whose ``id`` is above the last one seen. Non-finite values are stored as "NaN"/"Infinity".
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.errors import NotFoundError, UserError
from toolkits.experiments.sources.incremental import FileCursor, cursor_for
from toolkits.experiments.sources.run_pick import pick_run
from toolkits.experiments.sources.tables import to_number, to_timestamp

DB_SUFFIX = ".db"


class TrackioCursor(FileCursor):
    """Rows of one run read so far; ``offset`` is the last metrics row id, not a byte."""

    def __init__(self, path: Path, stat: os.stat_result):
        super().__init__(path, stat)
        self.run_id: str | None = None

    def matches(self, stat: os.stat_result) -> bool:
        # SQLite rewrites pages in place, so size says nothing; a new inode means a new store.
        return stat.st_dev == self.device and stat.st_ino == self.inode


def trackio_dir(configured: Path | None) -> Path:
    if configured is not None:
        return configured
    if os.environ.get("TRACKIO_DIR"):
        return Path(os.environ["TRACKIO_DIR"])
    hf_home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return Path(hf_home) / "trackio"


def project_db(store_dir: Path, project: str) -> Path:
    # trackio names the file after the project with everything but [A-Za-z0-9_-] removed.
    canonical = re.sub(r"[^A-Za-z0-9_-]", "", project) or "default"
    path = store_dir / f"{canonical}{DB_SUFFIX}"
    if not path.is_file():
        known = sorted(p.stem for p in store_dir.glob(f"*{DB_SUFFIX}"))[:20]
        raise NotFoundError(
            f"No trackio project {project!r} in {store_dir}. Projects there: "
            f"{', '.join(known) or 'none'}. Use source='trackio:<project>' or "
            f"'trackio:<project>/<run>', and set MLINTERN_TRACKIO_DIR if the store lives elsewhere."
        )
    return path


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def list_runs(path: Path) -> list[tuple[str, str]]:
    """(run_id, run_name) pairs, most recently started first."""
    with _connect(path) as conn:
        if "run_id" not in _columns(conn):
            rows = conn.execute(
                "SELECT run_name, run_name AS run_id FROM metrics GROUP BY run_name "
                "ORDER BY MIN(timestamp) DESC, MIN(id) DESC"
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT run_id, MAX(run_name) AS run_name FROM metrics GROUP BY run_id "
                "ORDER BY MIN(timestamp) DESC, MIN(id) DESC"
            ).fetchall()
    return [(row["run_id"], row["run_name"]) for row in rows]


def resolve_run(path: Path, project: str, run: str | None) -> tuple[str, str]:
    runs = list_runs(path)
    if not runs:
        raise UserError(f"trackio project {project!r} has no logged metrics yet; check later.")
    return pick_run(
        runs,
        run,
        names=lambda found: found,
        label=lambda found: found[1],
        where=f"run {run!r} in trackio project {project!r}",
    )


def config(path: Path, run_id: str) -> dict | None:
    with _connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "configs" not in tables:
            return None
        column = "run_id" if "run_id" in _columns(conn, "configs") else "run_name"
        row = conn.execute(f"SELECT config FROM configs WHERE {column} = ?", (run_id,)).fetchone()
    if row is None:
        return None
    data = json.loads(row["config"])
    # trackio adds bookkeeping keys (_Username, _Created, _Group) that are not configuration.
    return {k: v for k, v in data.items() if not k.startswith("_")}


def read_run(path: Path, run_id: str) -> TrackioCursor:
    cursor = cursor_for(path, f"trackio:{run_id}", TrackioCursor)
    with cursor.lock, _connect(path) as conn:
        column = "run_id" if "run_id" in _columns(conn) else "run_name"
        rows = conn.execute(
            f"SELECT id, step, timestamp, metrics FROM metrics WHERE {column} = ? AND id > ? "
            "ORDER BY id",
            (run_id, cursor.offset),
        ).fetchall()
        for row in rows:
            wall_time = to_timestamp(row["timestamp"])
            try:
                metrics = json.loads(row["metrics"])
            except ValueError:
                cursor.problems.append(f"trackio row {row['id']} holds no JSON; skipped")
                continue
            for key, raw in metrics.items():
                value = to_number(raw)
                if value is not None:
                    cursor.buffer(key).append(int(row["step"]), value, wall_time)
            cursor.offset = row["id"]
    return cursor


def _columns(conn: sqlite3.Connection, table: str = "metrics") -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
