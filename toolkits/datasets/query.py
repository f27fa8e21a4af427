"""datasets_inspect with sql: one read-only SQL statement over a local dataset or a Hub dataset's parquet.

The statement is parsed by DuckDB itself and refused unless it is a single SELECT (WITH ...,
FROM-first, VALUES, DESCRIBE and SUMMARIZE parse as SELECT). It then runs on a connection that
can read only the dataset's files (see engine.py), wrapped in LIMIT/OFFSET so that DuckDB stops
early, under a time limit.
"""

from __future__ import annotations

import json
import time
from typing import Any

from server.errors import UserError
from server.roots import current as current_roots
from server.settings import Settings
from toolkits.datasets.engine import DatasetConnection, first_line, require_duckdb
from toolkits.datasets.hub_parquet import Progress, split_parquet
from toolkits.datasets.models import QueryResult
from toolkits.datasets.sources import SplitFiles, looks_local, pick_split, resolve_local
from toolkits.datasets.values import cell

RESULT_CHARS = 100_000  # the structured result stays small enough for any client


def validate_sql(sql: str) -> str:
    """The single SELECT statement in ``sql``, without its trailing semicolon."""
    duckdb = require_duckdb()
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UserError(f"The SQL does not parse: {first_line(exc)}") from None
    if len(statements) != 1:
        raise UserError(
            f"Send exactly one SQL statement (got {len(statements)}); use WITH ... SELECT to "
            f"combine steps."
        )
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = str(statement.type).rsplit(".", 1)[-1]
        raise UserError(
            f"Only read-only queries are allowed (SELECT or WITH ... SELECT); this is {kind}. "
            f"Nothing was run."
        )
    return statement.query.strip().rstrip(";").strip()


def run_query(
    settings: Settings,
    dataset: str,
    sql: str,
    *,
    config: str | None = None,
    split: str | None = None,
    limit: int = 100,
    offset: int = 0,
    progress: Progress | None = None,
) -> QueryResult:
    """Run one read-only SQL statement over a dataset's splits (tables ``data`` and each
    split), bounded in rows, memory and time.

    Raises UserError for SQL that writes, reads files or does not parse, for an unknown column
    or table (listing the real ones), and when the time or memory limit stops the query.
    """
    statement = validate_sql(sql)  # before any download: a refused query costs nothing
    notes: list[str] = []
    if looks_local(dataset):
        if config is not None:
            notes.append("config applies to Hub datasets only; ignored")
        roots = current_roots()
        local = resolve_local(dataset, roots)
        splits = local.splits
        chosen = pick_split(list(splits), split, dataset)
    else:
        roots = None  # the Hub's files, downloaded by the server into its own cache
        config, chosen, paths = split_parquet(settings, dataset, config, split, progress)
        splits = {chosen: SplitFiles(chosen, "parquet", paths)}
        notes.append(f"Hub dataset {dataset}, config {config}, split {chosen} (cached parquet)")
    duckdb = require_duckdb()
    started = time.monotonic()
    with DatasetConnection(splits, chosen, settings, roots) as db:
        try:
            with db.time_limit(settings.datasets_query_timeout_s, "The query"):
                wrapped = (
                    f"SELECT * FROM (\n{statement}\n) AS query LIMIT {limit + 1} OFFSET {offset}"
                )
                columns, types, rows = db.fetch(wrapped)
        except duckdb.Error as exc:
            raise UserError(_explain(exc, db)) from None
    elapsed_ms = int((time.monotonic() - started) * 1000)
    shown, cut = _bounded_rows(rows[:limit])
    more = len(rows) > limit or cut
    next_offset = offset + len(shown) if more else None
    if cut:
        notes.append(
            f"cut at {len(shown)} rows to keep the answer under {RESULT_CHARS:,} characters"
        )
    return QueryResult(
        dataset=dataset,
        sql=statement,
        tables=db.tables,
        columns=columns,
        types=types,
        rows=shown,
        offset=offset,
        truncated=more,
        next_offset=next_offset,
        elapsed_ms=elapsed_ms,
        notes=notes,
        hint=f"More rows: call datasets_inspect with the same sql and offset={next_offset}."
        if more
        else None,
    )


def _bounded_rows(rows: list[tuple[Any, ...]]) -> tuple[list[list[Any]], bool]:
    shown: list[list[Any]] = []
    used = 0
    for row in rows:
        values = [cell(v) for v in row]
        used += len(json.dumps(values, default=str))
        if shown and used > RESULT_CHARS:
            return shown, True
        shown.append(values)
    return shown, False


def _explain(exc: Exception, db: DatasetConnection) -> str:
    duckdb = require_duckdb()
    detail = "\n".join(str(exc).strip().splitlines()[:4])
    if isinstance(exc, duckdb.PermissionException):
        return (
            f"Only this dataset can be read, through the views {', '.join(db.tables)}; other "
            f"files and extensions are off limits. ({first_line(exc)})"
        )
    try:
        _, _, described = db.fetch("DESCRIBE SELECT * FROM data")
        columns = ", ".join(f"{row[0]} {row[1]}" for row in described[:40])
    except duckdb.Error:
        columns = "?"
    return (
        f"The query failed: {detail}\nTables: {', '.join(db.tables)}. Columns of data: {columns}."
    )
