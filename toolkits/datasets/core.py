"""The datasets toolkit's plain functions: inspect (Hub id or local path), query, or either."""

from __future__ import annotations

from server.settings import Settings
from toolkits.datasets.local import inspect_local
from toolkits.datasets.models import DatasetInspection, QueryResult
from toolkits.datasets.query import Progress, run_query
from toolkits.datasets.remote import inspect_hub
from toolkits.datasets.sources import looks_local

__all__ = ["inspect_dataset", "inspect_or_query", "run_query"]


def inspect_dataset(
    settings: Settings,
    dataset: str,
    *,
    config: str | None = None,
    split: str | None = None,
    sample_rows: int = 5,
    column_offset: int = 0,
) -> DatasetInspection:
    """Splits, schema, row counts, sample rows and size of a Hub dataset or a local path.

    Raises UserError for a local path outside the roots or in no known format, NotFoundError
    for a missing dataset, config or split (listing the ones there are).
    """
    if looks_local(dataset):
        inspection = inspect_local(
            settings, dataset, split=split, sample_rows=sample_rows, column_offset=column_offset
        )
        if config is not None:
            inspection.notes.append("config applies to Hub datasets only; ignored")
        return inspection
    return inspect_hub(
        settings,
        dataset,
        config=config,
        split=split,
        sample_rows=sample_rows,
        column_offset=column_offset,
    )


def inspect_or_query(
    settings: Settings,
    dataset: str,
    *,
    sql: str | None = None,
    config: str | None = None,
    split: str | None = None,
    sample_rows: int = 5,
    column_offset: int = 0,
    limit: int = 100,
    offset: int = 0,
    progress: Progress | None = None,
) -> DatasetInspection | QueryResult:
    """Describe the dataset, or with ``sql`` run that one read-only query over it.

    Raises UserError for a refused statement, a missing split or config, a path outside the
    roots; NotFoundError for an unknown Hub dataset.
    """
    if sql is not None:
        return run_query(
            settings,
            dataset,
            sql,
            config=config,
            split=split,
            limit=limit,
            offset=offset,
            progress=progress,
        )
    if progress:
        progress(0, 1, f"inspecting {dataset}")
    inspection = inspect_dataset(
        settings,
        dataset,
        config=config,
        split=split,
        sample_rows=sample_rows,
        column_offset=column_offset,
    )
    if progress:
        progress(1, 1, "done")
    return inspection
