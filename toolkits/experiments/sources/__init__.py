"""Where metrics come from. A source string names one of:

- a job id (the jobs toolkit records the directory the job writes its metrics to);
- a TensorBoard log directory (event files found recursively; a sub-directory's tags are
  prefixed with its relative path) or a single event file;
- ``trackio:<project>`` or ``trackio:<project>/<run>`` (trackio's local SQLite store);
- a ``.jsonl`` / ``.csv`` metrics file (or a directory holding such files and no event files);
- an MLflow file store (``mlruns/``, an experiment or a run directory) or SQLite database
  (``mlflow.db``), or a W&B offline run (``wandb/``, ``offline-run-*``, a ``.wandb`` file): the
  newest run, or the one named after ``#`` (``mlflow.db#<run name or id>``), see trackers.py.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from server.errors import NotFoundError, UserError
from server.roots import current as current_roots
from toolkits.experiments.series import Series, concatenate
from toolkits.experiments.sources import tables, tfevents, trackers, trackio_store
from toolkits.experiments.sources.incremental import FileCursor
from toolkits.experiments.sources.jobs import JobInfo, find_job
from toolkits.experiments.sources.runs import newest_runs

if TYPE_CHECKING:
    from server.settings import Settings
    from server.state import StateStore

TRACKIO_PREFIX = "trackio:"
MAX_FILES = 500
MAX_DEPTH = 5


@dataclass
class Snapshot:
    """Every scalar series of a source as of now."""

    source: str
    kind: str  # tensorboard | trackio | mlflow | wandb | jsonl | csv | empty
    series: dict[str, Series]
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    job: JobInfo | None = None
    run: str | None = None  # the trackio run read, when the project has several

    @property
    def last_wall_time(self) -> float | None:
        import numpy as np

        latest = [float(np.nanmax(s.wall_times)) for s in self.series.values() if _has_time(s)]
        return max(latest) if latest else None


def _has_time(series: Series) -> bool:
    import numpy as np

    return len(series) > 0 and bool(np.isfinite(series.wall_times).any())


@dataclass
class Located:
    """A resolved source: what to read, and where its configuration lives."""

    source: str
    path: Path | None = None
    trackio_db: Path | None = None
    trackio_run: tuple[str, str] | None = None
    job: JobInfo | None = None
    tracker: trackers.TrackerRun | None = None


def locate(source: str, settings: Settings, store: StateStore) -> Located:
    source = source.strip()
    if not source:
        raise UserError(
            "source is empty: pass a job id, a log directory, a metrics file, or "
            "'trackio:<project>[/<run>]'."
        )
    if source.startswith(TRACKIO_PREFIX):
        project, _, run = source[len(TRACKIO_PREFIX) :].partition("/")
        db = trackio_store.project_db(trackio_store.trackio_dir(settings.trackio_dir), project)
        return Located(
            source, trackio_db=db, trackio_run=trackio_store.resolve_run(db, project, run or None)
        )
    source_path, run = trackers.split_run(source)
    path = Path(source_path).expanduser()
    if path.exists():
        real = current_roots().check(path, what="metrics source")
        return Located(source, path=real, tracker=trackers.detect(real, run))
    job = find_job(settings, store, source)
    if job is not None:
        return Located(source, path=Path(job.log_dir) if job.log_dir else None, job=job)
    raise NotFoundError(
        f"Source {source!r} not found: it is not an existing file or directory, not a known "
        f"job id (list jobs with jobs_list), and not 'trackio:<project>[/<run>]'. Paths are "
        f"read on the server, relative to {Path.cwd()}."
    )


def read(located: Located) -> Snapshot:
    snapshot = Snapshot(source=located.source, kind="empty", series={}, job=located.job)
    if located.trackio_db is not None and located.trackio_run is not None:
        run_id, run_name = located.trackio_run
        cursor = trackio_store.read_run(located.trackio_db, run_id)
        snapshot.kind, snapshot.run = "trackio", run_name
        _collect(snapshot, [("", cursor)])
        return snapshot
    if located.tracker is not None:
        snapshot.kind, snapshot.run = located.tracker.kind, located.tracker.name
        _collect(snapshot, located.tracker.read())
        return snapshot
    path = located.path
    if path is None or not path.exists():
        if located.job is not None:
            snapshot.problems.append(
                f"job {located.job.job_id} ({located.job.status}) has written no metrics yet"
            )
        return snapshot
    if path.is_file():
        kind, cursor = _read_file(path)
        snapshot.kind = kind
        _collect(snapshot, [("", cursor)])
        return snapshot
    event_files, table_files = _scan(path)
    if event_files:
        snapshot.kind = "tensorboard"
        event_files, run_notes = newest_runs(event_files)
        snapshot.problems.extend(run_notes)
        parts = [(_prefix(path, f), tfevents.read_event_file(f)) for f in event_files]
    elif table_files:
        parts = []
        for f in table_files:
            snapshot.kind, cursor = _read_file(f)
            parts.append(("", cursor))
    else:
        snapshot.problems.append(
            f"{path} holds no TensorBoard event files or JSONL/CSV metrics yet"
        )
        return snapshot
    _collect(snapshot, parts)
    return snapshot


def _read_file(path: Path) -> tuple[str, FileCursor]:
    suffix = path.suffix.lower()
    if tfevents.EVENT_FILE_MARKER in path.name:
        return "tensorboard", tfevents.read_event_file(path)
    if suffix in tables.JSONL_SUFFIXES:
        return "jsonl", tables.read_jsonl(path)
    if suffix in tables.CSV_SUFFIXES:
        return "csv", tables.read_csv(path)
    raise UserError(
        f"{path} is not a metrics file this tool reads: use a TensorBoard event file "
        f"(events.out.tfevents.*), a .jsonl/.csv file, or the log directory that holds them."
    )


def _scan(root: Path) -> tuple[list[Path], list[Path]]:
    """Event files anywhere below ``root`` (bounded), and JSONL/CSV files directly in it.

    Symlinks leading out of the roots, special files and credential files are skipped.
    """
    roots = current_roots()
    events: list[Path] = []
    root_depth = len(root.parts)
    for directory, subdirs, names in os.walk(root):
        if len(Path(directory).parts) - root_depth >= MAX_DEPTH:
            subdirs.clear()
        subdirs.sort()
        for name in sorted(names):
            if tfevents.EVENT_FILE_MARKER in name and roots.readable(Path(directory) / name):
                events.append(Path(directory) / name)
        if len(events) >= MAX_FILES:
            break
    suffixes = tables.JSONL_SUFFIXES + tables.CSV_SUFFIXES
    table_files = sorted(
        p for p in root.iterdir() if p.suffix.lower() in suffixes and roots.readable(p)
    )
    return events[:MAX_FILES], table_files[:MAX_FILES]


def _prefix(root: Path, event_file: Path) -> str:
    relative = event_file.parent.relative_to(root).as_posix()
    return "" if relative == "." else relative + "/"


def _collect(snapshot: Snapshot, parts: Sequence[tuple[str, FileCursor]]) -> None:
    by_tag: dict[str, list[Series]] = {}
    for prefix, cursor in parts:
        snapshot.files.append(str(cursor.path))
        snapshot.problems.extend(cursor.problems[-5:])
        with cursor.lock:
            frozen = [
                (prefix + tag, buf.freeze(prefix + tag)) for tag, buf in cursor.buffers.items()
            ]
        for tag, series in frozen:
            by_tag.setdefault(tag, []).append(series)
    snapshot.series = {tag: concatenate(tag, parts) for tag, parts in sorted(by_tag.items())}
