"""Numbers a model can reason with, computed from a series without looking at a chart.

Downsampling keeps the shape that matters for judging a run: each bucket contributes its lowest
and highest point, the first and last points are always kept, and non-finite values (NaN/Inf,
the first sign of divergence) are kept as well, up to a tenth of the budget.
"""

from __future__ import annotations

import math
import re
import time
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import numpy as np

    from toolkits.experiments.series import Series

Goal = Literal["minimize", "maximize"]
Value = float | Literal["NaN", "Infinity", "-Infinity"]

# Name fragments that reveal which way a metric should go (token match on the tag's words).
_MINIMIZE_WORDS = {
    "loss",
    "error",
    "err",
    "perplexity",
    "ppl",
    "wer",
    "cer",
    "mse",
    "mae",
    "rmse",
    "nll",
    "latency",
}
_MAXIMIZE_WORDS = {
    "acc",
    "accuracy",
    "f1",
    "auc",
    "auroc",
    "precision",
    "recall",
    "bleu",
    "rouge",
    "reward",
    "return",
    "score",
    "map",
    "iou",
    "em",
    "exact_match",
}
# Relative change under which the recent window counts as flat.
FLAT_BELOW = 0.005


class Point(BaseModel):
    step: int
    value: Value


class TagSummary(BaseModel):
    tag: str
    points: int = Field(description="Points logged for this tag.")
    first_step: int | None = None
    last_step: int | None = None
    last: Value | None = Field(default=None, description="The most recent value.")
    min: Point | None = None
    max: Point | None = None
    goal: Goal | None = Field(default=None, description="Direction inferred from the tag name.")
    best: Point | None = Field(default=None, description="min or max, per goal.")
    nan_count: int = 0
    inf_count: int = 0
    first_non_finite_step: int | None = None
    trend: Literal["decreasing", "increasing", "flat", "unknown"] = "unknown"
    trend_change: float | None = Field(
        default=None,
        description="Relative change of the mean, second half vs first half of the recent window.",
    )
    trend_window_steps: tuple[int, int] | None = None
    steps_per_second: float | None = None
    last_update: str | None = Field(default=None, description="UTC time of the last point.")
    seconds_since_update: float | None = None
    series: list[tuple[int, Value]] = Field(
        default_factory=list, description="[step, value] pairs, downsampled with spikes kept."
    )


def infer_goal(tag: str) -> Goal | None:
    words = set(re.split(r"[^a-z0-9]+", tag.lower()))
    if words & _MINIMIZE_WORDS:
        return "minimize"
    if words & _MAXIMIZE_WORDS:
        return "maximize"
    return None


def encode(value: float) -> Value:
    """JSON has no NaN/Inf; spell them the way trackio and JavaScript do."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def summarize(
    series: Series,
    *,
    max_points: int,
    since_step: int | None = None,
    goal: Goal | None = None,
    now: float | None = None,
) -> TagSummary:
    import numpy as np

    goal = goal or infer_goal(series.tag)
    count = len(series)
    summary = TagSummary(tag=series.tag, points=count, goal=goal)
    if count == 0:
        return summary
    steps, values, walls = series.steps, series.values, series.wall_times
    finite = np.isfinite(values)
    summary.first_step, summary.last_step = int(steps[0]), int(steps[-1])
    summary.last = encode(float(values[-1]))
    summary.nan_count = int(np.isnan(values).sum())
    summary.inf_count = int(np.isinf(values).sum())
    if not finite.all():
        summary.first_non_finite_step = int(steps[np.argmin(finite)])
    all_finite = bool(finite.all())
    if all_finite or finite.any():
        low = int(np.argmin(values if all_finite else np.where(finite, values, np.inf)))
        high = int(np.argmax(values if all_finite else np.where(finite, values, -np.inf)))
        summary.min = Point(step=int(steps[low]), value=float(values[low]))
        summary.max = Point(step=int(steps[high]), value=float(values[high]))
        summary.best = {"minimize": summary.min, "maximize": summary.max, None: None}[goal]
    _trend(summary, steps, values, walls)
    _freshness(summary, walls, now)
    selected = np.flatnonzero(steps > since_step) if since_step is not None else None
    summary.series = _points(steps, values, max_points, selected)
    return summary


def recent_window(count: int) -> int:
    """How many trailing points make up "recent": a fifth of the run, 4 to 1000 points."""
    return max(4, min(1000, count // 5))


def _trend(summary: TagSummary, steps: np.ndarray, values: np.ndarray, walls: np.ndarray) -> None:
    import numpy as np

    window = min(len(values), recent_window(len(values)))
    if window < 4:
        return
    tail = values[-window:]
    summary.trend_window_steps = (int(steps[-window]), int(steps[-1]))
    if not np.isfinite(tail).all():
        return
    half = window // 2
    before, after = float(tail[:half].mean()), float(tail[half:].mean())
    scale = max(abs(before), abs(after), 1e-12)
    change = (after - before) / scale
    summary.trend_change = round(change, 6)
    summary.trend = (
        "flat" if abs(change) < FLAT_BELOW else "decreasing" if change < 0 else "increasing"
    )
    tail_walls = walls[-window:]
    elapsed = float(tail_walls[-1] - tail_walls[0])
    if np.isfinite(elapsed) and elapsed > 0:
        summary.steps_per_second = round(float(steps[-1] - steps[-window]) / elapsed, 4)


def _freshness(summary: TagSummary, walls: np.ndarray, now: float | None) -> None:
    import numpy as np

    latest = float(np.fmax.reduce(walls))  # fmax skips NaN (points without a time)
    # NaN: no times at all; small numbers: a relative clock ("seconds since start").
    if not latest >= 1e9:
        return
    summary.last_update = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(latest))
    summary.seconds_since_update = round(max(0.0, (now or time.time()) - latest), 1)


def _points(
    steps: np.ndarray, values: np.ndarray, max_points: int, selected: np.ndarray | None
) -> list[tuple[int, Value]]:
    if max_points <= 0:
        return []
    if selected is not None:
        steps, values = steps[selected], values[selected]
    keep = downsample(values, max_points)
    return [
        (step, encode(value))
        for step, value in zip(steps[keep].tolist(), values[keep].tolist(), strict=True)
    ]


def downsample(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices (sorted) of at most ``max_points`` points that keep extremes and spikes."""
    import numpy as np

    count = len(values)
    if count <= max_points:
        return np.arange(count)
    finite = np.isfinite(values)
    non_finite = np.flatnonzero(~finite)
    reserve = min(len(non_finite), max_points // 10)
    if reserve:
        non_finite = non_finite[np.linspace(0, len(non_finite) - 1, reserve).astype(np.int64)]
        low, high = np.where(finite, values, np.inf), np.where(finite, values, -np.inf)
    else:
        low = high = values
    buckets = max(1, (max_points - 2 - reserve) // 2)
    width = math.ceil(count / buckets)
    # Whole buckets as a (rows, width) view; a shorter last bucket is handled on its own.
    # rows + (1 if a remainder) = ceil(count / width) <= buckets.
    rows = count // width
    whole = rows * width
    offsets = np.arange(rows) * width
    picked = [
        np.array([0, count - 1]),
        offsets + low[:whole].reshape(rows, width).argmin(axis=1),
        offsets + high[:whole].reshape(rows, width).argmax(axis=1),
        non_finite[:reserve],
    ]
    if whole < count:
        picked.append(np.array([whole + low[whole:].argmin(), whole + high[whole:].argmax()]))
    # 2 + 2 x buckets + reserve <= max_points, so the budget holds without trimming.
    return np.unique(np.concatenate(picked))
