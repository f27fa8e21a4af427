"""The full run's wall time from the step timestamps of a short run of it.

The model is the one an ML engineer reasons with:

    full run = start-up                 process start to the first logged step: interpreter,
                                        imports, data loading, model build, the first step
             + warm-up                  the next few steps (first-time allocation, autotuning,
                                        compilation), counted once, as measured
             + steps left x steady time per step
             + evaluations left x their extra time (the periodic events the log shows as
                                        sparser series: evaluations, epoch ends, checkpoints)
             + teardown                 last step to exit: final save, writers closing

The steady time per step is the slope over the steady window (past warm-up, the intervals of
evaluations left out): its time over its steps, a mean. Not a median interval: on a shared
machine a job waits for a core now and then, and the full run waits as often; the median misses
those waits (the example MLP on a loaded 2-core machine: median 0.6 ms/step, runs at 3-20 ms/step
on average). Nor a median of block means, which misses them too when they are rarer than one per
block. The outliers that are not the run's steady cost are structural and set apart: warm-up
(counted once) and evaluations (counted at their period).
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

WARMUP_SHARE = 0.2  # at least this share of the intervals is warm-up ...
WARMUP_SLOW = 3.0  # ... and so is any interval right after it this many times the steady one


class StepTiming(BaseModel):
    """Where a short run's time went, as the estimate of the full run uses it."""

    startup_s: float = Field(description="Process start to the first logged step.")
    first_step: int
    warmup_steps: int = Field(description="Steps after the first, before the steady window.")
    warmup_s: float
    seconds_per_step: float = Field(description="Steady: warm-up and evaluations left out.")
    steady_steps: int = Field(description="Steps the steady time rests on.")
    eval_every: int | None = None
    eval_s: float | None = Field(default=None, description="Extra seconds per evaluation.")
    eval_at_end: bool = False
    teardown_s: float | None = Field(default=None, description="Last step to exit.")
    basis: Literal["metrics", "stdout"]


@dataclass
class _Interval:
    seconds: float
    steps: int
    evaluates: bool


def step_timing(
    started: float,
    points: list[tuple[float, int]],
    eval_steps: set[int],
    ended: float | None,
    basis: Literal["metrics", "stdout"],
    eval_every: int | None = None,
) -> StepTiming | None:
    """``points``: (wall time, step) of the logged steps; ``eval_steps``: steps at which the log
    shows an evaluation; ``ended``: when the process exited by itself (None if it was stopped);
    ``eval_every``: the config's evaluation period, for when the log shows too few to tell."""
    points = _distinct(points)
    if len(points) < 2:
        return None
    # An evaluation at step e lands between the logs of e-1 and e, or of e and e+1 (a script
    # that logs the training loss first): both intervals are the evaluation's.
    at = {step: i for i, (_t, step) in enumerate(points)}
    touched = {j for e in eval_steps if e in at for j in (at[e], at[e] + 1)}
    intervals = [
        _Interval(t - points[i - 1][0], step - points[i - 1][1], i in touched)
        for i, (t, step) in enumerate(points)
        if i > 0
    ]
    skip = _warmup(intervals)
    steady = [iv for iv in intervals[skip:] if not iv.evaluates]
    per_step = sum(iv.seconds for iv in steady) / max(1, sum(iv.steps for iv in steady))
    if per_step <= 0:  # no steady interval, or times running backwards
        return None
    first_time, first_step = points[0]
    warm_time, warm_step = points[skip]
    timing = StepTiming(
        startup_s=round(max(0.0, first_time - started), 3),
        first_step=first_step,
        warmup_steps=warm_step - first_step,
        warmup_s=round(warm_time - first_time, 3),
        seconds_per_step=round(per_step, 6),
        steady_steps=sum(iv.steps for iv in steady),
        teardown_s=round(max(0.0, ended - points[-1][0]), 3) if ended is not None else None,
        basis=basis,
    )
    seen = sorted(e for e in eval_steps if e in at)
    if seen:
        _evaluations(timing, seen, intervals, skip, per_step, eval_every)
    return timing


def _distinct(points: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """The first time each step was logged, in step order (a step logged twice counts once)."""
    first: dict[int, float] = {}
    for t, step in points:
        first.setdefault(step, t)
    return sorted(((t, step) for step, t in first.items()), key=lambda p: p[1])


def _warmup(intervals: list[_Interval]) -> int:
    """How many intervals are warm-up: a fixed share, and any slow ones right after it, never
    more than half."""
    n = len(intervals)
    if n < 2:
        return 0
    skip = min(n // 2, max(1, math.ceil(n * WARMUP_SHARE)))
    later = [iv.seconds / iv.steps for iv in intervals[n // 2 :] if not iv.evaluates]
    if later:
        reference = statistics.median(later)
        while (
            skip < n // 2
            and intervals[skip].seconds / intervals[skip].steps > WARMUP_SLOW * reference
        ):
            skip += 1
    return skip


def _evaluations(
    timing: StepTiming,
    seen: list[int],
    intervals: list[_Interval],
    skip: int,
    per_step: float,
    configured: int | None,
) -> None:
    """The period of the evaluations, their extra time over the steady window, and whether the
    script evaluates at its end too (at its last step, off the period)."""
    warm_step = timing.first_step + timing.warmup_steps
    last = warm_step + sum(iv.steps for iv in intervals[skip:])
    # One at the last step may be the script's final evaluation, off the period: not a gap.
    periodic = seen[:-1] if seen[-1] == last else seen
    gaps = [b - a for a, b in itertools.pairwise(periodic)]
    if gaps:
        period = statistics.mode(gaps)
    elif configured:
        period = configured
    elif periodic and periodic[0] > 0:
        period = periodic[0]  # the first evaluation at step e: one every e steps
    else:
        period = None  # one, at the last step, and no period in the config: counted once
    timing.eval_every = period
    timing.eval_at_end = seen[-1] == last and (period is None or last % period != 0)
    extra = [iv.seconds - iv.steps * per_step for iv in intervals[skip:] if iv.evaluates]
    # An evaluation counts where the steady window holds the interval that ends at its step.
    evaluations = sum(1 for e in seen if e > warm_step)
    if extra and evaluations:
        timing.eval_s = round(max(0.0, sum(extra) / evaluations), 6)


def full_run_seconds(timing: StepTiming, full_steps: int) -> tuple[float, str]:
    """The estimate for a run of ``full_steps`` and what it rests on, in one line."""
    warm_step = timing.first_step + timing.warmup_steps
    steps_left = max(0, full_steps - warm_step)
    evals = 0
    if timing.eval_s is not None:
        if timing.eval_every:
            evals = full_steps // timing.eval_every - warm_step // timing.eval_every
        if timing.eval_at_end and (not timing.eval_every or full_steps % timing.eval_every):
            evals += 1
    teardown = timing.teardown_s or 0.0
    total = (
        timing.startup_s
        + timing.warmup_s
        + steps_left * timing.seconds_per_step
        + evals * (timing.eval_s or 0.0)
        + teardown
    )
    parts = [f"{timing.startup_s:.3g}s start-up"]
    if timing.warmup_steps:
        parts.append(f"{timing.warmup_s:.3g}s warm-up ({timing.warmup_steps} steps)")
    parts.append(f"{steps_left} steps x {timing.seconds_per_step:.4g}s")
    if evals:
        parts.append(f"{evals} evals x {timing.eval_s:.3g}s")
    parts.append("teardown not seen" if timing.teardown_s is None else f"{teardown:.3g}s teardown")
    basis = f"{' + '.join(parts)} (from {timing.basis}, {timing.steady_steps} steady steps)"
    return round(total, 3), basis
