"""MLflow's local stores, read without importing mlflow.

- File store: ``mlruns/<experiment id>/<run id>/metrics/<key>`` holds lines
  ``<timestamp ms> <value> <step>`` (a key with ``/`` is a sub-directory); ``params/<key>``
  holds one value each; ``meta.yaml`` has the run's name and start time.
- Database backend (``mlflow.db``, SQLite): table ``metrics(key, value, timestamp, run_uuid,
  step, is_nan)`` (NaN is stored as 0 with ``is_nan`` set), ``runs``, ``params``.

A store with several runs is read at its newest run; name another with ``<path>#<run>``.
"""

from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path
from typing import Any

from server.errors import NotFoundError, UserError
from server.roots import current as current_roots
from server.roots import open_regular
from toolkits.experiments.sources.incremental import FileCursor, cursor_for
from toolkits.experiments.sources.run_pick import pick_run

MAX_RUNS = 2000
MAX_METRIC_FILES = 500
MAX_READ_BYTES = 16 * 1024 * 1024  # per metric file and call; the next call goes on
MAX_SMALL_FILE = 1024 * 1024  # meta.yaml, one param
_INF = 1.7976931348623157e308  # MLflow stores +-inf as +-max float


def is_file_run(path: Path) -> bool:
    return path.is_dir() and (path / "meta.yaml").is_file() and (path / "metrics").is_dir()


def is_database(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() not in (".db", ".sqlite", ".sqlite3"):
        return False
    try:
        with _connect(path) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:
        return False
    return {"runs", "metrics", "experiments"} <= tables


def file_runs(root: Path) -> list[Path]:
    """Run directories under a file store root or one experiment's directory, newest first."""
    found = [p for p in root.iterdir() if is_file_run(p)] if root.is_dir() else []
    if not found:
        for experiment in sorted(root.iterdir())[:MAX_RUNS]:
            if experiment.is_dir() and experiment.name != ".trash":
                found += [p for p in experiment.iterdir() if is_file_run(p)]
    return sorted(found, key=lambda p: _meta(p).get("start_time") or 0, reverse=True)[:MAX_RUNS]


def _meta(run: Path) -> dict[str, Any]:
    import yaml

    try:
        text = current_roots().read_text(run / "meta.yaml", limit=MAX_SMALL_FILE)
        data = yaml.safe_load(text)
    except (OSError, UserError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def run_name(run: Path) -> str:
    return str(_meta(run).get("run_name") or run.name)


def pick_file_run(root: Path, wanted: str | None) -> Path:
    if is_file_run(root):
        return root
    runs = file_runs(root)
    if not runs:
        raise NotFoundError(f"{root} holds no MLflow runs (no <experiment>/<run>/meta.yaml).")
    return pick_run(
        runs,
        wanted,
        names=lambda run: (run.name, run_name(run)),
        label=lambda run: f"{run_name(run)} ({run.name})",
        where=f"MLflow run {wanted!r} in {root}",
    )


def read_file_run(run: Path) -> list[tuple[str, FileCursor]]:
    metrics = run / "metrics"
    parts = []
    for directory, _subdirs, names in os.walk(metrics):
        for name in sorted(names):
            path = Path(directory) / name
            tag = path.relative_to(metrics).as_posix()
            parts.append((tag, _read_metric_file(path, tag)))
            if len(parts) >= MAX_METRIC_FILES:
                return parts
    return parts


def _read_metric_file(path: Path, tag: str) -> FileCursor:
    cursor = cursor_for(path, "mlflow", FileCursor)
    with cursor.lock, os.fdopen(open_regular(path), "rb") as handle:
        handle.seek(cursor.offset)
        data = handle.read(MAX_READ_BYTES)
        complete = data[: data.rfind(b"\n") + 1]
        for line in complete.decode(errors="replace").splitlines():
            fields = line.split()
            try:
                timestamp, value, step = float(fields[0]), float(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                cursor.problems.append(f"{path}: a line is not '<timestamp> <value> <step>'")
                continue
            cursor.buffer(tag).append(step, _finite(value), timestamp / 1000)
        cursor.offset += len(complete)
    return cursor


def file_run_params(run: Path) -> dict[str, str]:
    params = run / "params"
    if not params.is_dir():
        return {}
    roots = current_roots()
    return {
        p.relative_to(params).as_posix(): roots.read_text(p, limit=MAX_SMALL_FILE).strip()
        for p in sorted(params.rglob("*"))[:MAX_METRIC_FILES]
        if roots.readable(p)
    }


class DatabaseCursor(FileCursor):
    """Rows of one run read so far; ``offset`` is the last rowid, not a byte."""

    def matches(self, stat: os.stat_result) -> bool:
        return stat.st_dev == self.device and stat.st_ino == self.inode


def _connect(path: Path) -> sqlite3.Connection:
    os.close(open_regular(path))  # SQLite would block opening a FIFO planted under this name
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def database_runs(path: Path) -> list[tuple[str, str]]:
    """(run id, run name) pairs of live runs, newest first."""
    with _connect(path) as conn:
        rows = conn.execute(
            "SELECT run_uuid, name FROM runs WHERE lifecycle_stage = 'active' "
            "ORDER BY start_time DESC LIMIT ?",
            (MAX_RUNS,),
        ).fetchall()
    return [(str(run_id), str(name or run_id)) for run_id, name in rows]


def pick_database_run(path: Path, wanted: str | None) -> tuple[str, str]:
    runs = database_runs(path)
    if not runs:
        raise NotFoundError(f"The MLflow database {path} holds no runs yet.")
    return pick_run(
        runs,
        wanted,
        names=lambda run: run,
        label=lambda run: f"{run[1]} ({run[0]})",
        where=f"MLflow run {wanted!r} in {path}",
    )


def read_database_run(path: Path, run_id: str) -> DatabaseCursor:
    cursor = cursor_for(path, f"mlflow:{run_id}", DatabaseCursor)
    with cursor.lock, _connect(path) as conn:
        rows = conn.execute(
            "SELECT rowid, key, value, timestamp, step, is_nan FROM metrics "
            "WHERE run_uuid = ? AND rowid > ? ORDER BY timestamp, rowid",
            (run_id, cursor.offset),
        ).fetchall()
        for rowid, key, value, timestamp, step, is_nan in rows:
            number = math.nan if is_nan else _finite(float(value))
            cursor.buffer(str(key)).append(int(step), number, float(timestamp) / 1000)
            cursor.offset = max(cursor.offset, int(rowid))
    return cursor


def database_params(path: Path, run_id: str) -> dict[str, str]:
    with _connect(path) as conn:
        rows = conn.execute(
            "SELECT key, value FROM params WHERE run_uuid = ? LIMIT ?", (run_id, MAX_METRIC_FILES)
        ).fetchall()
    return {str(key): str(value) for key, value in rows}


def _finite(value: float) -> float:
    if abs(value) >= _INF:
        return math.copysign(math.inf, value)
    return value
