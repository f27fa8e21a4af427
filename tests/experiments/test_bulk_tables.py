"""The bulk JSONL/CSV readers give exactly what the line-by-line readers give, or decline.

Each case is a chunk big enough for the bulk path; the same bytes go through both readers and
every tag's steps, values and wall times must be identical (NaN included). Cases the bulk path
must leave to the line-by-line reader are asserted to decline with nothing appended.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from toolkits.experiments.sources import bulk_tables, tables


def chunk_of(rows: list[str]) -> bytes:
    """``rows`` repeated until the chunk is big enough for the bulk path."""
    block = "".join(line + "\n" for line in rows).encode()
    return block * (bulk_tables.BULK_FROM_BYTES // len(block) + 1)


def fresh(tmp_path: Path) -> tables.TableCursor:
    path = tmp_path / "m.jsonl"
    path.touch()
    return tables.TableCursor(path, os.stat(path))


def columns(cursor: tables.TableCursor) -> dict[str, tuple[list, list, list]]:
    out = {}
    for tag, buffer in cursor.buffers.items():
        series = buffer.freeze(tag)
        as_text = [repr(v) for v in series.values.tolist()]  # NaN == NaN when compared as text
        walls = [repr(v) for v in series.wall_times.tolist()]
        out[tag] = (series.steps.tolist(), as_text, walls)
    return out


SAME = {
    "wide with steps and ms timestamps": [
        '{"step": 3, "train/loss": 0.5, "acc": 1, "timestamp": 1700000000123}',
        '{"step": 4.7, "train/loss": NaN, "acc": -Infinity, "timestamp": 1700000001}',
    ],
    "numbers and non-finite spellings as text": [
        '{"step": "5", "loss": "0.5", "acc": "nan", "t": "x"}',
        '{"step": "oops", "loss": "-Infinity", "acc": "+inf", "t": "1e3"}',
    ],
    "no step: rows are numbered, text and booleans are no metric": [
        '{"loss": 1.5, "note": "warm", "flag": true}',
        '{"loss": 2, "note": "3.5", "list": [1, 2]}',
    ],
    "sparse keys and a lower step key kept as a metric": [
        '{"step": 1, "epoch": 0, "train/loss": 0.9}',
        '{"epoch": 2, "val/loss": 0.8}',
        '{"step": 2.5, "train/loss": 0.7}',
    ],
    "nested objects become a/b": [
        '{"step": 1, "train": {"loss": 0.5, "acc": {"top1": 0.1}}}',
        '{"step": 2, "train": {"loss": 0.4}, "lr": 1e-3}',
    ],
    "long rows": [
        '{"tag": "train/loss", "value": 0.5, "step": 7, "wall_time": 12.5}',
        '{"name": "val/acc", "value": 1, "step": 8, "extra": 3}',
    ],
    "long rows with values as text": [
        '{"tag": "a", "value": "0.75", "step": 8}',
        '{"metric": "b", "value": "oops", "step": 9}',
        '{"metric": "b", "tag": "c", "value": "Infinity"}',
    ],
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_bulk_equals_line_by_line(tmp_path: Path, name: str) -> None:
    data = chunk_of(SAME[name])
    bulk, lines = fresh(tmp_path), fresh(tmp_path)
    assert bulk_tables.add_jsonl_chunk(bulk, data) is True
    tables.add_jsonl_lines(lines, 1, data)
    expected = columns(lines)
    assert expected  # a case that logged nothing could not tell the readers apart
    assert columns(bulk) == expected
    assert bulk.rows == lines.rows == data.count(b"\n")


DECLINED = {
    "a null": ['{"step": null, "epoch": 1, "loss": 0.5}'],
    "a blank line": ['{"loss": 0.5}', ""],
    "two objects on one line": ['{"loss": 0.5} {"loss": 0.6}'],
    "a malformed line": ['{"loss": 0.5}', '{"loss": '],
    "a date as time": ['{"loss": 0.5, "time": "2024-01-02T03:04:05"}'],
    "an object as step": ['{"step": {"a": 1}, "loss": 0.5}'],
    "wide and long rows mixed": ['{"tag": "a", "value": 1}', '{"a": 2}'],
    "numbers and text in one column": ['{"loss": 0.5}', '{"loss": "NaN"}'],
    "a/b clash": ['{"a/b": 1, "a": {"b": 2}}'],
    "not an object": ["[1, 2]"],
    "a step beyond int64": ['{"step": 1e30, "loss": 1}'],
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_bulk_declines_what_only_the_line_reader_interprets(tmp_path: Path, name: str) -> None:
    cursor = fresh(tmp_path)
    assert bulk_tables.add_jsonl_chunk(cursor, chunk_of(DECLINED[name])) is False
    assert cursor.buffers == {} and cursor.rows == 0


def test_small_chunks_stay_line_by_line(tmp_path: Path) -> None:
    cursor = fresh(tmp_path)
    assert bulk_tables.add_jsonl_chunk(cursor, b'{"step": 1, "loss": 0.5}\n') is False


def test_a_big_file_then_appended_lines_read_like_before(tmp_path: Path) -> None:
    """Through read_jsonl: a bulk first read, a small line-by-line append, a malformed line."""
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        "".join(json.dumps({"step": s, "loss": 1 / (1 + s)}) + "\n" for s in range(5000))
    )
    first = tables.read_jsonl(path)
    assert first.buffers["loss"].freeze("loss").steps[-1] == 4999
    with path.open("a") as handle:
        handle.write('{"step": 5000, "loss": "NaN"}\nnot json\n')
    again = tables.read_jsonl(path)
    loss = again.buffers["loss"].freeze("loss")
    assert len(loss) == 5001 and math.isnan(loss.values[-1])
    assert np.array_equal(loss.steps[:5000], np.arange(5000))
    assert any("line 5002 is not valid JSON" in p for p in again.problems)


CSV_SAME = {
    "numbers, non-finite spellings, empty cells, text": [
        "step,train/loss,acc,note,timestamp",
        "1,0.5,nan,warm,1700000000123",
        "2,,Infinity,3.5,1700000001",
        "3,-inf, 0.25 ,x,",
    ],
    "no step column: rows are numbered; booleans are no numbers": [
        "loss,flag,epoch",
        "0.5,true,1",
        "0.25,1,",
    ],
    "an empty step cell numbers the row (it does not fall back to epoch)": [
        "step,epoch,loss",
        "5,1,0.5",
        ",2,0.25",
    ],
}


@pytest.mark.parametrize("name", sorted(CSV_SAME))
def test_bulk_csv_equals_line_by_line(tmp_path: Path, name: str) -> None:
    header, *rows = CSV_SAME[name]
    data = (header + "\n").encode() + chunk_of(rows)
    bulk, lines = fresh(tmp_path), fresh(tmp_path)
    assert bulk_tables.add_csv_chunk(bulk, data, ",") is True
    tables.add_csv_lines(lines, 1, data, ",")
    expected = columns(lines)
    assert expected
    assert columns(bulk) == expected
    assert bulk.header == lines.header
    # The next chunk has no header: the one read first names its columns.
    more = chunk_of(rows)
    assert bulk_tables.add_csv_chunk(bulk, more, ",") is True
    tables.add_csv_lines(lines, 1, more, ",")
    assert columns(bulk) == columns(lines)
    assert bulk.rows == lines.rows


CSV_DECLINED = {
    "a blank line": ["step,loss", "1,0.5", ""],
    "a short row": ["step,loss", "1,0.5", "2"],
    "a quoted line break": ["step,note", '1,"a', 'b"'],
    "a repeated column name": ["loss,loss", "1,2"],
    "long rows": ["tag,value,step", "train/loss,0.5,1"],
    "a date as time": ["time,loss", "2024-01-02T03:04:05,0.5"],
}


@pytest.mark.parametrize("name", sorted(CSV_DECLINED))
def test_bulk_csv_declines_what_only_the_line_reader_interprets(tmp_path: Path, name: str) -> None:
    header, *rows = CSV_DECLINED[name]
    cursor = fresh(tmp_path)
    data = (header + "\n").encode() + chunk_of(rows)
    assert bulk_tables.add_csv_chunk(cursor, data, ",") is False
    assert cursor.buffers == {} and cursor.rows == 0 and cursor.header is None
