"""Scalar series: growable buffers while reading, numpy arrays once read."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class PointBuffer:
    """Append-only (step, value, wall time) columns for one tag.

    The hot parsing loop appends to ``array.array`` (cheap, compact); ``freeze`` moves what was
    appended into numpy columns that grow by doubling and returns views of the filled part. So
    a re-read of a growing log copies only the new points, and an earlier snapshot stays valid:
    later points land beyond its end, or in a new allocation.
    """

    __slots__ = ("_columns", "_size", "steps", "values", "wall_times")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("d")
        self.wall_times = array("d")
        self._columns: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._size = 0

    def append(self, step: int, value: float, wall_time: float) -> None:
        self.steps.append(step)
        self.values.append(value)
        self.wall_times.append(wall_time)

    def adopt(self, steps: np.ndarray, values: np.ndarray, wall_times: np.ndarray) -> None:
        """Take ready numpy columns as the points so far (an empty buffer; no copy)."""
        import numpy as np

        if len(self):
            raise ValueError("adopt() fills an empty buffer only")
        columns = (
            np.ascontiguousarray(steps, np.int64),
            np.ascontiguousarray(values, np.float64),
            np.ascontiguousarray(wall_times, np.float64),
        )
        self._columns, self._size = columns, len(columns[0])

    def extend(self, steps: np.ndarray, values: np.ndarray, wall_times: np.ndarray) -> None:
        """Append many points at once (a bulk reader's columns), copied once into the numpy
        columns (the caller may reuse its arrays)."""
        self._flush()
        size = self._size + len(steps)
        columns = self._reserve(size)
        for column, new in zip(columns, (steps, values, wall_times), strict=True):
            column[self._size : size] = new
        self._size = size

    def __len__(self) -> int:
        return self._size + len(self.steps)

    def freeze(self, tag: str) -> Series:
        if self._columns is None:
            self._reserve(0)
        self._flush()
        steps, values, wall_times = self._columns  # type: ignore[misc]
        size = self._size
        return Series(tag, steps[:size], values[:size], wall_times[:size])

    def _reserve(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Columns with room for ``size`` points; growing moves the filled part to a new
        allocation (doubling), so views handed out earlier keep their points."""
        import numpy as np

        columns = self._columns
        if columns is None or size > len(columns[0]):
            capacity = max(size, 2 * (len(columns[0]) if columns else 0), 1024)
            grown = (np.empty(capacity, np.int64), np.empty(capacity), np.empty(capacity))
            for old, new in zip(columns or (), grown, strict=False):
                new[: self._size] = old[: self._size]
            columns = self._columns = grown
        return columns

    def _flush(self) -> None:
        """Move what ``append`` gathered into the numpy columns."""
        import numpy as np

        pending = len(self.steps)
        if not pending:
            return
        size = self._size + pending
        columns = self._reserve(size)
        for column, buffer, dtype in zip(
            columns,
            (self.steps, self.values, self.wall_times),
            (np.int64, np.float64, np.float64),
            strict=True,
        ):
            # The temporary view is dropped at once, so the array.array may be cleared.
            column[self._size : size] = np.frombuffer(buffer, dtype=dtype)
        del self.steps[:], self.values[:], self.wall_times[:]
        self._size = size


@dataclass
class Series:
    """One tag's points in logging order. ``wall_times`` is NaN where the source has none."""

    tag: str
    steps: np.ndarray
    values: np.ndarray
    wall_times: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)


def concatenate(tag: str, parts: list[Series]) -> Series:
    """Join the same tag from several files, ordered by wall time when files interleave."""
    import numpy as np

    parts = [part for part in parts if len(part)]
    if not parts:
        return Series(tag, np.empty(0, np.int64), np.empty(0), np.empty(0))
    if len(parts) == 1:
        return parts[0]
    steps = np.concatenate([p.steps for p in parts])
    values = np.concatenate([p.values for p in parts])
    walls = np.concatenate([p.wall_times for p in parts])
    if np.all(np.isfinite(walls)):
        # A resumed run writes a second file; a stable sort keeps each file's own order.
        order = np.argsort(walls, kind="stable")
        steps, values, walls = steps[order], values[order], walls[order]
    return Series(tag, steps, values, walls)
