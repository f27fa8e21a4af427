"""Per-file read positions, so re-reading a growing log reads only the new bytes.

Kept in memory, keyed by path and checked against the file's device, inode and size: a file
that was replaced (new inode) or truncated (smaller than what was read) is read again from the
start. A long log's cursor is also saved on disk (series_cache.py), so after a server restart
the first read loads it and parses only what was appended since; the log files themselves stay
the record.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from toolkits.experiments.series import PointBuffer

# Enough for a few dozen long runs; the least recently read file is dropped first.
MAX_CACHED_FILES = 256
MAX_CACHED_POINTS = 30_000_000


class FileCursor:
    """What has been read from one file so far: the byte offset and the points found."""

    def __init__(self, path: Path, stat: os.stat_result):
        self.path = path
        self.device = stat.st_dev
        self.inode = stat.st_ino
        self.offset = 0
        self.buffers: dict[str, PointBuffer] = {}
        self.lock = threading.Lock()
        self.problems: list[str] = []
        self.saved_points = 0  # points in the on-disk copy (series_cache.py)

    def saved_state(self) -> dict[str, Any]:
        """What a reader needs, beyond offset and points, to go on where it stopped (JSON)."""
        return {"problems": self.problems[-20:]}

    def restore_state(self, state: dict[str, Any]) -> None:
        self.problems = [str(p) for p in state.get("problems", [])]

    def matches(self, stat: os.stat_result) -> bool:
        return (
            stat.st_dev == self.device and stat.st_ino == self.inode and stat.st_size >= self.offset
        )

    def buffer(self, tag: str) -> PointBuffer:
        found = self.buffers.get(tag)
        if found is None:
            found = self.buffers[tag] = PointBuffer()
        return found

    @property
    def points(self) -> int:
        return sum(len(b) for b in self.buffers.values())


C = TypeVar("C", bound=FileCursor)

_cursors: OrderedDict[tuple[str, str], FileCursor] = OrderedDict()
_cursors_lock = threading.Lock()


def updated(
    path: Path,
    kind: str,
    factory: Callable[[Path, os.stat_result], C],
    read_new: Callable[[C], object],
) -> C:
    """The cursor of ``path`` for a reader ``kind``, brought up to date by ``read_new``.

    A fresh cursor (the file is new to this process, or was replaced) starts from the on-disk
    copy when one matches; a cursor that grew enough is saved again.
    """
    from toolkits.experiments.sources import series_cache

    cursor, fresh = _cursor(path, kind, factory)
    with cursor.lock:
        if fresh and cursor.offset == 0:
            series_cache.restore(cursor, kind)
        read_new(cursor)
        series_cache.remember(cursor, kind)
    return cursor


def cursor_for(path: Path, kind: str, factory: Callable[[Path, os.stat_result], C]) -> C:
    """The cursor of ``path`` for a reader ``kind``, fresh if the file is new or was replaced."""
    return _cursor(path, kind, factory)[0]


def _cursor(path: Path, kind: str, factory: Callable[[Path, os.stat_result], C]) -> tuple[C, bool]:
    """The cursor of ``path`` for a reader ``kind``, and whether it was just made."""
    stat = path.stat()
    key = (kind, str(path.resolve()))
    fresh = False
    with _cursors_lock:
        cursor = _cursors.get(key)
        if cursor is None or not cursor.matches(stat):
            cursor = factory(path, stat)
            _cursors[key] = cursor
            fresh = True
        _cursors.move_to_end(key)
        _evict_locked()
    return cursor, fresh  # type: ignore[return-value]


def _evict_locked() -> None:
    total = sum(c.points for c in _cursors.values())
    while len(_cursors) > 1 and (len(_cursors) > MAX_CACHED_FILES or total > MAX_CACHED_POINTS):
        _key, dropped = _cursors.popitem(last=False)
        total -= dropped.points


def forget_all() -> None:
    """Drop every cursor (the next read of each file starts over)."""
    with _cursors_lock:
        _cursors.clear()
