"""Per-file read positions, so re-reading a growing log reads only the new bytes.

Kept in memory, keyed by path and checked against the file's device, inode and size: a file
that was replaced (new inode) or truncated (smaller than what was read) is read again from the
start. After a server restart the first read is a full one; nothing a user would miss is lost,
because the log files themselves are the record.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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


def cursor_for(path: Path, kind: str, factory: Callable[[Path, os.stat_result], C]) -> C:
    """The cursor of ``path`` for a reader ``kind``, fresh if the file is new or was replaced."""
    stat = path.stat()
    key = (kind, str(path.resolve()))
    with _cursors_lock:
        cursor = _cursors.get(key)
        if cursor is None or not cursor.matches(stat):
            cursor = factory(path, stat)
            _cursors[key] = cursor
        _cursors.move_to_end(key)
        _evict_locked()
    return cursor  # type: ignore[return-value]


def _evict_locked() -> None:
    total = sum(c.points for c in _cursors.values())
    while len(_cursors) > 1 and (len(_cursors) > MAX_CACHED_FILES or total > MAX_CACHED_POINTS):
        _key, dropped = _cursors.popitem(last=False)
        total -= dropped.points


def forget_all() -> None:
    """Drop every cursor (the next read of each file starts over)."""
    with _cursors_lock:
        _cursors.clear()
