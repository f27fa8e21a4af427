"""datasets_inspect for a Hub dataset, from what the dataset viewer has already computed.

Nothing is downloaded: splits, schema, row counts, sizes, the first rows and per-column
statistics all come from the viewer's endpoints. Optional endpoints that fail (statistics are
missing for some datasets) leave a note instead of failing the inspection.
"""

from __future__ import annotations

from typing import Any

from server.settings import Settings
from toolkits.datasets.models import ColumnProfile, DatasetInspection, SplitSummary
from toolkits.datasets.values import cell, chat_column, decode_base64_cells, detect_chat
from toolkits.datasets.viewer import Viewer, ViewerError, choose, feature_type

COLUMNS_PER_PAGE = 40


def inspect_hub(
    settings: Settings,
    dataset: str,
    *,
    config: str | None = None,
    split: str | None = None,
    sample_rows: int = 5,
    column_offset: int = 0,
) -> DatasetInspection:
    notes: list[str] = []
    with Viewer(settings) as viewer:
        valid = viewer.get("is-valid", dataset)
        if not (valid.get("preview") or valid.get("viewer")):
            raise ViewerError(
                f"The dataset viewer has no preview of {dataset} (unsupported layout, too large, "
                f"or still being processed). List its files with hub_repo(repo_id="
                f"{dataset!r}, kind='dataset', op='list') and read one with op='read'."
            )
        entries = viewer.get("splits", dataset).get("splits", [])
        config, split, configs = choose(entries, config, split, dataset)
        info = viewer.optional("info", dataset, notes, config=config) or {}
        size = viewer.optional("size", dataset, notes, config=config) or {}
        first = viewer.get("first-rows", dataset, config=config, split=split)
        stats = None
        if valid.get("statistics", True):
            stats = viewer.optional("statistics", dataset, notes, config=config, split=split)
        else:
            notes.append("no /statistics: the viewer computes none for this dataset")
    dataset_info = info.get("dataset_info") or {}
    features = [(str(f["name"]), feature_type(f.get("type"))) for f in first.get("features", [])]
    window = features[column_offset : column_offset + COLUMNS_PER_PAGE]
    rows = [r.get("row", {}) for r in first.get("rows", [])]
    chat = None
    column = chat_column(name for name, _ in features)
    if column is not None:
        chat = detect_chat(column, (row.get(column) for row in rows))
        if chat is not None:
            notes.append(f"chat format checked on the viewer's first {chat.rows_checked} rows")
    if first.get("truncated"):
        notes.append("the viewer cut its first rows short (large cells)")
    if stats and stats.get("partial"):
        notes.append("the viewer's statistics cover only the first 5 GB of this split")
    next_offset = column_offset + len(window)
    more = next_offset < len(features)
    return DatasetInspection(
        dataset=dataset,
        source="hub",
        format="parquet (viewer)",
        configs=configs,
        config=config,
        split=split,
        splits=_splits(entries, config, size, dataset_info),
        columns=_profiles(window, stats),
        columns_total=len(features),
        column_offset=column_offset,
        next_column_offset=next_offset if more else None,
        truncated=more,
        sample_rows=[
            {name: cell(decode_base64_cells(row.get(name))) for name, _ in window}
            for row in rows[:sample_rows]
        ],
        chat=chat,
        license=_license(dataset_info),
        description=(dataset_info.get("description") or None),
        notes=notes,
        hint=(
            f"More columns: call datasets_inspect with column_offset={next_offset}."
            if more
            else f"Query it with datasets_inspect(dataset={dataset!r}, config={config!r}, "
            f"split={split!r}, sql='SELECT ... FROM data')."
        ),
    )


def _license(dataset_info: dict[str, Any]) -> str | None:
    value = dataset_info.get("license")
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    return str(value) if value else None


def _splits(
    entries: list[dict[str, Any]],
    config: str,
    size: dict[str, Any],
    dataset_info: dict[str, Any],
) -> list[SplitSummary]:
    sized = {
        s["split"]: s
        for s in (size.get("size") or {}).get("splits", [])
        if s.get("config") == config
    }
    examples = dataset_info.get("splits") or {}
    partial = bool(size.get("partial"))
    summaries = []
    for entry in entries:
        if entry["config"] != config:
            continue
        name = str(entry["split"])
        rows = sized.get(name, {}).get("num_rows", (examples.get(name) or {}).get("num_examples"))
        summaries.append(
            SplitSummary(
                name=name,
                rows=rows,
                rows_exact=not partial,
                bytes=sized.get(name, {}).get("num_bytes_parquet_files"),
            )
        )
    return summaries


def _profiles(window: list[tuple[str, str]], stats: dict[str, Any] | None) -> list[ColumnProfile]:
    by_name = {s["column_name"]: s for s in (stats or {}).get("statistics", [])}
    profiles = []
    for name, kind in window:
        entry = by_name.get(name)
        if entry is None:
            profiles.append(ColumnProfile(name=name, type=kind))
            continue
        values = entry.get("column_statistics") or {}
        numeric = entry.get("column_type") in ("int", "float")
        lengths = entry.get("column_type") in ("string_text", "list")
        profiles.append(
            ColumnProfile(
                name=name,
                type=kind,
                nulls=values.get("nan_count"),
                min=values.get("min") if numeric else None,
                max=values.get("max") if numeric else None,
                approx_distinct=values.get("n_unique"),
                length_min=values.get("min") if lengths else None,
                length_max=values.get("max") if lengths else None,
                length_mean=values.get("mean") if lengths else None,
                stats_scope="viewer",
            )
        )
    return profiles
