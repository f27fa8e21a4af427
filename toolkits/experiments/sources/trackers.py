"""Runs of other trackers found at a path: MLflow (file store or SQLite) and W&B offline runs.

``detect`` looks at a path (and an optional ``#<run>`` after it) and returns a ``TrackerRun``
that reads like any other source: cursors of scalar series, a run name and a config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkits.experiments.sources import mlflow_store, wandb_offline
from toolkits.experiments.sources.incremental import FileCursor

RUN_SEPARATOR = "#"


@dataclass
class TrackerRun:
    kind: str  # mlflow | wandb
    where: Path
    name: str
    read: Callable[[], list[tuple[str, FileCursor]]]
    config: Callable[[], dict[str, Any]]


def split_run(source: str) -> tuple[str, str | None]:
    """``<path>#<run>`` -> (path, run) when the part before ``#`` exists; else (source, None)."""
    head, sep, run = source.rpartition(RUN_SEPARATOR)
    if sep and run and Path(head).expanduser().exists():
        return head, run
    return source, None


def detect(path: Path, run: str | None = None) -> TrackerRun | None:
    if mlflow_store.is_database(path):
        run_id, name = mlflow_store.pick_database_run(path, run)
        return TrackerRun(
            "mlflow",
            path,
            name,
            lambda: [("", mlflow_store.read_database_run(path, run_id))],
            lambda: mlflow_store.database_params(path, run_id),
        )
    if wandb_offline.is_log(path) or wandb_offline.is_run(path) or wandb_offline.runs(path):
        log = wandb_offline.pick(path, run)

        def read_wandb() -> list[tuple[str, FileCursor]]:
            return [("", wandb_offline.read(log))]

        def wandb_config() -> dict[str, Any]:
            return wandb_offline.read(log).config

        name = log.parent.name.rpartition("-")[2]
        return TrackerRun("wandb", log.parent, name, read_wandb, wandb_config)
    if path.is_dir() and (mlflow_store.is_file_run(path) or _has_mlflow_runs(path)):
        chosen = mlflow_store.pick_file_run(path, run)
        return TrackerRun(
            "mlflow",
            chosen,
            mlflow_store.run_name(chosen),
            lambda: [("", cursor) for _tag, cursor in mlflow_store.read_file_run(chosen)],
            lambda: mlflow_store.file_run_params(chosen),
        )
    return None


def _has_mlflow_runs(path: Path) -> bool:
    try:
        return bool(mlflow_store.file_runs(path))
    except OSError:
        return False
