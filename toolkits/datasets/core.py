"""The datasets toolkit's plain functions: inspect (Hub id or local path) and query."""

from __future__ import annotations

from server.settings import Settings
from toolkits.datasets.local import inspect_local
from toolkits.datasets.models import DatasetInspection
from toolkits.datasets.query import run_query
from toolkits.datasets.remote import inspect_hub
from toolkits.datasets.sources import looks_local

__all__ = ["inspect_dataset", "run_query"]


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
