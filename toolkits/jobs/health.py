"""The last metric step a job wrote: TensorBoard event files, trackio databases, JSONL files.

Reading the step must stay cheap enough for every jobs_status call, so TensorBoard files are
walked record by record (headers only, remembering where the previous scan stopped) instead of
importing tensorboard and decoding every event.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_MAX_FILES = 50


@dataclass
class MetricMark:
    step: int
    at: float | None
    source: str


# path -> (bytes already scanned, mark found so far): event files only ever grow.
_tb_cache: dict[Path, tuple[int, MetricMark | None]] = {}
_tb_lock = threading.Lock()


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _event_step(data: bytes) -> tuple[int, float | None] | None:
    """(step, wall_time) of a serialized tensorflow.Event that carries a summary, else None.

    Event fields used: 1 wall_time (double), 2 step (int64), 5 summary (message).
    """
    pos, step, wall, has_summary = 0, 0, None, False
    try:
        while pos < len(data):
            tag, pos = _varint(data, pos)
            field, wire = tag >> 3, tag & 7
            if wire == 0:
                value, pos = _varint(data, pos)
                if field == 2:
                    step = value
            elif wire == 1:
                if field == 1:
                    wall = struct.unpack_from("<d", data, pos)[0]
                pos += 8
            elif wire == 2:
                length, pos = _varint(data, pos)
                has_summary |= field == 5
                pos += length
            elif wire == 5:
                pos += 4
            else:
                return None
    except (IndexError, struct.error):
        return None
    return (step, wall) if has_summary else None


def _scan_tfevents(path: Path) -> MetricMark | None:
    with _tb_lock:
        start, mark = _tb_cache.get(path, (0, None))
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            position = start
            while True:
                header = handle.read(12)
                if len(header) < 12:
                    break
                (length,) = struct.unpack("<Q", header[:8])
                data = handle.read(length)
                if len(data) < length or len(handle.read(4)) < 4:
                    break  # a record still being written: pick it up next time
                position += 12 + length + 4
                found = _event_step(data)
                if found and (mark is None or found[0] >= mark.step):
                    mark = MetricMark(found[0], found[1], "tensorboard")
    except OSError:
        return mark
    with _tb_lock:
        _tb_cache[path] = (position, mark)
    return mark


def _scan_trackio(path: Path) -> MetricMark | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT MAX(step), MAX(timestamp) FROM metrics").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if not row or row[0] is None:
        return None
    at = None
    try:
        at = datetime.fromisoformat(str(row[1])).timestamp()
    except ValueError:
        pass
    return MetricMark(int(row[0]), at, "trackio")


def _scan_jsonl(path: Path) -> MetricMark | None:
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 8192))
            tail = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            return MetricMark(record["step"], path.stat().st_mtime, "jsonl")
    return None


def latest_metric(metrics_dir: Path | None) -> MetricMark | None:
    """The most recently written metric mark under ``metrics_dir``, from any known format."""
    if metrics_dir is None or not metrics_dir.is_dir():
        return None
    marks: list[tuple[float, MetricMark]] = []
    scanners = (("events.out.tfevents.*", _scan_tfevents), ("*.db", _scan_trackio))
    scanners += (("*.jsonl", _scan_jsonl),)
    for pattern, scan in scanners:
        for path in sorted(metrics_dir.rglob(pattern))[:_MAX_FILES]:
            mark = scan(path)
            if mark is not None:
                marks.append((path.stat().st_mtime, mark))
    if not marks:
        return None
    return max(marks, key=lambda pair: pair[0])[1]
