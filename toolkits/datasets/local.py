"""datasets_inspect for files on this machine, reading metadata instead of whole files.

Parquet: row counts and per-column nulls/min/max come from the footers (no data page is read);
the schema from the footer; sample rows and approximate distinct counts from the first rows
only. Arrow: counts from the batch headers of a memory-mapped file. CSV/JSON have no metadata:
small files are counted exactly, big ones estimated from their first megabytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server.roots import current as current_roots
from server.settings import Settings
from toolkits.datasets.engine import DatasetConnection, ident, literal
from toolkits.datasets.models import ColumnProfile, DatasetInspection, SplitSummary
from toolkits.datasets.sources import SplitFiles, pick_split, resolve_local
from toolkits.datasets.values import cell, chat_column, detect_chat, row_dict

COLUMNS_PER_PAGE = 40
STATS_SAMPLE_ROWS = 10_000
CHAT_SAMPLE_ROWS = 1_000
COUNT_EXACT_MAX_BYTES = 256 * 1024 * 1024
ESTIMATE_PROBE_BYTES = 8 * 1024 * 1024
INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
FLOAT_TYPES = ("FLOAT", "DOUBLE", "DECIMAL")
ORDERED_TYPES = ("VARCHAR", "DATE", "TIMESTAMP", "TIME", "BOOLEAN")


def is_nested(duck_type: str) -> bool:
    return duck_type.endswith("]") or duck_type.startswith(("STRUCT", "MAP", "UNION"))


def inspect_local(
    settings: Settings,
    dataset: str,
    *,
    split: str | None = None,
    sample_rows: int = 5,
    column_offset: int = 0,
) -> DatasetInspection:
    roots = current_roots()
    local = resolve_local(dataset, roots)
    chosen = pick_split(list(local.splits), split, dataset)
    notes = list(local.notes)
    with (
        DatasetConnection(local.splits, chosen, settings, roots) as db,
        db.time_limit(settings.datasets_query_timeout_s, f"Inspecting {dataset}"),
    ):
        splits = [_split_summary(db, s, notes) for s in db.splits.values()]
        _, _, described = db.fetch("DESCRIBE SELECT * FROM data")
        schema = [(str(row[0]), str(row[1])) for row in described]
        window = schema[column_offset : column_offset + COLUMNS_PER_PAGE]
        names = ", ".join(ident(name) for name, _ in window)
        rows: list[tuple[Any, ...]] = []
        if window and sample_rows:
            _, _, rows = db.fetch(f"SELECT {names} FROM data LIMIT {sample_rows}")
        rows_in_split = next(s for s in splits if s.name == chosen)
        whole = rows_in_split.rows_exact and (rows_in_split.rows or 0) <= STATS_SAMPLE_ROWS
        profiles = _profiles(db, db.splits[chosen], window, whole)
        chat = None
        column = chat_column(name for name, _ in schema)
        if column is not None:
            _, _, values = db.fetch(f"SELECT {ident(column)} FROM data LIMIT {CHAT_SAMPLE_ROWS}")
            chat = detect_chat(column, (v[0] for v in values))
    next_offset = column_offset + len(window)
    more = next_offset < len(schema)
    if any(p.stats_scope == "sample" for p in profiles):
        notes.append(f"'(first rows)' statistics cover only the first {STATS_SAMPLE_ROWS:,} rows")
    if local.format == "parquet" and not whole:
        notes.append(
            f"nulls/min/max from parquet footers over all rows; distinct counts from the first "
            f"{STATS_SAMPLE_ROWS:,} rows"
        )
    return DatasetInspection(
        dataset=str(local.root),
        source="local",
        format=local.format,
        split=chosen,
        splits=splits,
        columns=profiles,
        columns_total=len(schema),
        column_offset=column_offset,
        next_column_offset=next_offset if more else None,
        truncated=more,
        sample_rows=[row_dict([n for n, _ in window], r) for r in rows],
        chat=chat,
        notes=notes,
        hint=(
            f"More columns: call datasets_inspect with column_offset={next_offset}."
            if more
            else f"Query it with datasets_inspect(dataset={dataset!r}, sql='SELECT ... FROM data')."
        ),
    )


def _split_summary(db: DatasetConnection, split: SplitFiles, notes: list[str]) -> SplitSummary:
    size = split.bytes
    base = {"name": split.name, "bytes": size, "files": len(split.files)}
    if split.format == "parquet":
        files = "[" + ", ".join(literal(str(f)) for f in split.files) + "]"
        _, _, result = db.fetch(f"SELECT sum(num_rows) FROM parquet_file_metadata({files})")
        return SplitSummary(**base, rows=int(result[0][0] or 0))
    if split.format == "arrow":
        return SplitSummary(**base, rows=db.row_counts[split.name])
    if size <= COUNT_EXACT_MAX_BYTES:
        _, _, result = db.fetch(f"SELECT count(*) FROM {ident(split.name)}")
        return SplitSummary(**base, rows=int(result[0][0]))
    estimate = _estimate_lines(split.files, size)
    if estimate is not None:
        notes.append(
            f"{split.name}: row count estimated from the first {ESTIMATE_PROBE_BYTES >> 20} MB "
            f"(counting {size / 2**30:.1f} GB of text exactly would take too long)"
        )
    return SplitSummary(**base, rows=estimate, rows_exact=False)


def _estimate_lines(files: list[Path], total_bytes: int) -> int | None:
    first = files[0]
    if first.suffix.lower() in (".gz", ".zst", ".bz2", ".xz"):
        return None  # compressed bytes say nothing about line lengths
    with first.open("rb") as handle:
        probe = handle.read(ESTIMATE_PROBE_BYTES)
    lines = probe.count(b"\n")
    return int(total_bytes * lines / len(probe)) if lines and probe else None


def _profiles(
    db: DatasetConnection, split: SplitFiles, window: list[tuple[str, str]], whole: bool
) -> list[ColumnProfile]:
    """Footer statistics where parquet has them, else statistics over the first rows
    (which are all the rows when ``whole``)."""
    if not window:
        return []
    footer = _footer_stats(db, split, window) if split.format == "parquet" else {}
    sampled = _sample_stats(db, window)
    profiles = []
    for name, duck_type in window:
        nulls, low, high, distinct, length_min, length_max, length_mean = sampled[name]
        scope = "all_rows" if whole else "sample"
        if name in footer:
            nulls, low, high = footer[name]
            scope = "metadata"
        profiles.append(
            ColumnProfile(
                name=name,
                type=duck_type,
                nulls=nulls,
                min=cell(low, 80),
                max=cell(high, 80),
                approx_distinct=distinct,
                length_min=length_min,
                length_max=length_max,
                length_mean=length_mean,
                stats_scope=scope,
            )
        )
    return profiles


def _sample_stats(db: DatasetConnection, window: list[tuple[str, str]]) -> dict[str, list[Any]]:
    """Per column: nulls, min, max, approx distinct, length min/max/mean, over the first rows."""
    parts = []
    for name, duck_type in window:
        column = ident(name)
        parts.append(f"count(*) - count({column})")
        if is_nested(duck_type):
            parts += ["NULL", "NULL", "NULL"]
        else:
            parts += [f"min({column})", f"max({column})", f"approx_count_distinct({column})"]
        if duck_type == "VARCHAR" or duck_type.endswith("[]"):
            size = f"length({column})" if duck_type == "VARCHAR" else f"len({column})"
            parts += [f"min({size})", f"max({size})", f"avg({size})"]
        else:
            parts += ["NULL", "NULL", "NULL"]
    names = ", ".join(ident(name) for name, _ in window)
    sample = f"(SELECT {names} FROM data LIMIT {STATS_SAMPLE_ROWS})"
    _, _, result = db.fetch(f"SELECT {', '.join(parts)} FROM {sample}")
    values = list(result[0])
    return {name: values[7 * i : 7 * i + 7] for i, (name, _) in enumerate(window)}


def _footer_stats(
    db: DatasetConnection, split: SplitFiles, window: list[tuple[str, str]]
) -> dict[str, tuple[int, Any, Any]]:
    """Nulls/min/max per top-level column, when every row group carries statistics for it."""
    wanted = {name: duck_type for name, duck_type in window if not is_nested(duck_type)}
    files = "[" + ", ".join(literal(str(f)) for f in split.files) + "]"
    _, _, rows = db.fetch(
        "SELECT path_in_schema, stats_min_value, stats_max_value, stats_null_count "
        f"FROM parquet_metadata({files})"
    )
    grouped: dict[str, list[tuple[Any, Any, Any]]] = {}
    for path, low, high, nulls in rows:
        if path in wanted:
            grouped.setdefault(path, []).append((low, high, nulls))
    stats: dict[str, tuple[int, Any, Any]] = {}
    for name, groups in grouped.items():
        if any(nulls is None for _, _, nulls in groups):
            continue
        converted = [
            (_typed(low, wanted[name]), _typed(high, wanted[name])) for low, high, _ in groups
        ]
        lows = [low for low, _ in converted]
        highs = [high for _, high in converted]
        if None in lows or None in highs:
            continue  # a row group without min/max: the footer cannot answer for this column
        stats[name] = (sum(int(n) for _, _, n in groups), min(lows), max(highs))
    return stats


def _typed(value: str | None, duck_type: str) -> Any:
    if value is None:
        return None
    try:
        if duck_type.startswith(INTEGER_TYPES):
            return int(value)
        if duck_type.startswith(FLOAT_TYPES):
            return float(value)
    except ValueError:
        return None
    return value if duck_type.startswith(ORDERED_TYPES) else None
