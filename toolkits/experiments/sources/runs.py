"""Runs kept apart: several event files in one folder are several runs, not one.

Every TensorBoard writer (one per training process) starts its own file named
``events.out.tfevents.<start time>.<host>...``. Concatenating them would judge five runs as one
(NaN counts and plateaus across processes), so a folder read as a whole keeps only its newest
run's file and says which it chose; a file path as the source reads exactly that run.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from toolkits.experiments.sources.tfevents import EVENT_FILE_MARKER

MAX_LISTED = 5


def start_time(event_file: Path) -> float:
    """The writer's start time from the file name, else the file's modification time."""
    after = event_file.name.split(EVENT_FILE_MARKER + ".", 1)[-1]
    with contextlib.suppress(ValueError):
        return float(after.split(".", 1)[0])
    return event_file.stat().st_mtime


def newest_runs(event_files: list[Path]) -> tuple[list[Path], list[str]]:
    """One event file per folder (the newest run), and a note per folder that held several."""
    by_folder: dict[Path, list[Path]] = {}
    for path in event_files:
        by_folder.setdefault(path.parent, []).append(path)
    kept: list[Path] = []
    notes: list[str] = []
    for folder, files in by_folder.items():
        ordered = sorted(files, key=lambda p: (start_time(p), p.name))
        newest = ordered[-1]
        kept.append(newest)
        if len(ordered) > 1:
            others = ", ".join(p.name for p in reversed(ordered[:-1][-MAX_LISTED:]))
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start_time(newest)))
            notes.append(
                f"{folder} holds {len(ordered)} runs (one event file per training process); "
                f"read the newest, {newest.name} (started {started}). Older: {others}. Pass "
                f"one file's path as the source to read that run instead."
            )
    return kept, notes
