"""Scalar series: growable buffers while reading, numpy arrays once read."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class PointBuffer:
    """Append-only (step, value, wall time) columns for one tag.

    ``array.array`` appends cheaply in the hot parsing loop; ``freeze`` copies into numpy so the
    buffer can keep growing while an earlier snapshot is still in use.
    """

    __slots__ = ("steps", "values", "wall_times")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("d")
        self.wall_times = array("d")

    def append(self, step: int, value: float, wall_time: float) -> None:
        self.steps.append(step)
        self.values.append(value)
        self.wall_times.append(wall_time)

    def __len__(self) -> int:
        return len(self.steps)

    def freeze(self, tag: str) -> Series:
        import numpy as np

        return Series(
            tag=tag,
            steps=np.array(self.steps, dtype=np.int64),
            values=np.array(self.values, dtype=np.float64),
            wall_times=np.array(self.wall_times, dtype=np.float64),
        )


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
