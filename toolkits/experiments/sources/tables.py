"""JSONL and CSV metric files, read incrementally (complete lines only).

Two row shapes are understood, because both are common in hand-rolled loggers:
- wide: ``{"step": 10, "train/loss": 0.4, "val/acc": 0.8}`` (nested objects become ``a/b``);
- long: ``{"tag": "train/loss", "value": 0.4, "step": 10}`` (also ``name``/``metric``).
Rows without a step are numbered in file order.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from server.roots import open_regular
from toolkits.experiments.sources import bulk_tables
from toolkits.experiments.sources.incremental import FileCursor, updated

STEP_KEYS = ("step", "global_step", "iteration", "iter", "_step", "epoch")
TIME_KEYS = ("wall_time", "timestamp", "time", "_timestamp")
TAG_KEYS = ("tag", "name", "metric")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
_NON_FINITE = {
    "nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-infinity": -math.inf,
}


class TableCursor(FileCursor):
    def __init__(self, path: Path, stat: os.stat_result):
        super().__init__(path, stat)
        self.rows = 0
        self.lines_seen = 0
        self.header: list[str] | None = None
        self.bad_lines = 0

    def saved_state(self) -> dict[str, Any]:
        return super().saved_state() | {
            "rows": self.rows,
            "lines_seen": self.lines_seen,
            "header": self.header,
            "bad_lines": self.bad_lines,
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        super().restore_state(state)
        self.rows, self.lines_seen = int(state["rows"]), int(state["lines_seen"])
        self.header = [str(h) for h in state["header"]] if state["header"] is not None else None
        self.bad_lines = int(state["bad_lines"])


def read_jsonl(path: Path) -> TableCursor:
    return updated(path, "jsonl", TableCursor, _read_new_jsonl)


def _read_new_jsonl(cursor: TableCursor) -> None:
    first_line, chunk = _new_chunk(cursor)
    if not bulk_tables.add_jsonl_chunk(cursor, chunk):
        add_jsonl_lines(cursor, first_line, chunk)


def add_jsonl_lines(cursor: TableCursor, first_line: int, chunk: bytes) -> None:
    """The rows of ``chunk`` one line at a time: every shape, and a note per bad line."""
    for line_number, line in _lines(first_line, chunk):
        try:
            row = json.loads(line)
        except ValueError:
            _note_bad_line(cursor, line_number, "is not valid JSON")
            continue
        if isinstance(row, dict):
            _add_row(cursor, _flatten(row))
        else:
            _note_bad_line(cursor, line_number, "is not a JSON object")


def read_csv(path: Path) -> TableCursor:
    return updated(path, "csv", TableCursor, _read_new_csv)


def _read_new_csv(cursor: TableCursor) -> None:
    delimiter = "\t" if cursor.path.suffix.lower() == ".tsv" else ","
    first_line, chunk = _new_chunk(cursor)
    if not bulk_tables.add_csv_chunk(cursor, chunk, delimiter):
        add_csv_lines(cursor, first_line, chunk, delimiter)


def add_csv_lines(cursor: TableCursor, first_line: int, chunk: bytes, delimiter: str) -> None:
    """The rows of ``chunk`` one line at a time (the first non-blank line of a file is its
    header)."""
    lines = [line for _number, line in _lines(first_line, chunk)]
    if not lines:
        return
    if cursor.header is None:
        cursor.header = next(csv.reader([lines[0]], delimiter=delimiter))
        lines = lines[1:]
    header = cursor.header
    for cells in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter):
        if cells:
            _add_row(cursor, dict(zip(header, cells, strict=False)))


def _new_chunk(cursor: TableCursor) -> tuple[int, bytes]:
    """The complete lines appended since the last read, and the number of the first one; the
    cursor moves past them."""
    with os.fdopen(open_regular(cursor.path), "rb") as handle:
        handle.seek(cursor.offset)
        data = handle.read()
    # A log read between writes ends mid-line; one that does not is not copied again (40 MB).
    chunk = data if data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]
    cursor.offset += len(chunk)
    first_line = cursor.lines_seen + 1
    cursor.lines_seen += chunk.count(b"\n")
    return first_line, chunk


def _lines(first_line: int, chunk: bytes) -> list[tuple[int, str]]:
    """Numbered non-blank lines of ``chunk``."""
    lines = chunk.decode("utf-8", errors="replace").split("\n")[:-1]
    return [(first_line + i, line.rstrip("\r")) for i, line in enumerate(lines) if line.strip()]


def _note_bad_line(cursor: TableCursor, line_number: int, why: str) -> None:
    cursor.bad_lines += 1
    if cursor.bad_lines <= 3:
        cursor.problems.append(f"{cursor.path.name}: line {line_number} {why}; skipped")


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "/"))
        else:
            flat[name] = value
    return flat


def _add_row(cursor: TableCursor, row: dict[str, Any]) -> None:
    step_key = next((k for k in STEP_KEYS if k in row), None)
    step_value = to_number(row.get(step_key)) if step_key else None
    step = int(step_value) if step_value is not None and math.isfinite(step_value) else cursor.rows
    time_key = next((k for k in TIME_KEYS if k in row), None)
    wall_time = to_timestamp(row.get(time_key)) if time_key else math.nan
    cursor.rows += 1
    tag_key = next((k for k in TAG_KEYS if isinstance(row.get(k), str)), None)
    if tag_key is not None and "value" in row:
        value = to_number(row["value"])
        if value is not None:
            cursor.buffer(row[tag_key]).append(step, value, wall_time)
        return
    for key, raw in row.items():
        if key in (step_key, time_key):
            continue
        value = to_number(raw)
        if value is not None:
            cursor.buffer(key).append(step, value, wall_time)


def to_number(raw: Any) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() in _NON_FINITE:
            return _NON_FINITE[text.lower()]
        try:
            return float(text)
        except ValueError:
            return None
    return None


def to_timestamp(raw: Any) -> float:
    number = to_number(raw)
    if number is not None:
        # Milliseconds since the epoch are common in JavaScript-born loggers.
        return number / 1000.0 if number > 1e11 else number
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            return math.nan
    return math.nan
