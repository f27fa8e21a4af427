"""Summaries a model can reason with: extremes, best, trend, speed, and spike-keeping downsampling."""

from __future__ import annotations

import numpy as np
import pytest

from toolkits.experiments.series import Series
from toolkits.experiments.summary import downsample, infer_goal, summarize


def series(tag: str, values, steps=None, walls=None) -> Series:
    values = np.asarray(values, dtype=float)
    steps = np.arange(len(values)) if steps is None else np.asarray(steps)
    walls = np.full(len(values), np.nan) if walls is None else np.asarray(walls, dtype=float)
    return Series(tag, steps.astype(np.int64), values, walls)


def test_downsampling_keeps_spikes_extremes_ends_and_non_finite() -> None:
    rng = np.random.default_rng(0)
    values = 1.0 + 0.01 * rng.standard_normal(100_000)
    values[31_337] = 50.0  # a one-point loss spike
    values[77_000] = -3.0
    values[90_000:90_005] = np.nan
    values[95_000] = np.inf
    keep = downsample(values, 200)
    assert len(keep) <= 200
    assert list(keep) == sorted(set(keep.tolist()))
    for index in (0, 31_337, 77_000, 90_000, 95_000, 99_999):
        assert index in keep, index
    assert downsample(values[:150], 200).tolist() == list(range(150))


@pytest.mark.parametrize("budget", [10, 11, 57, 2000])
def test_downsampling_never_exceeds_the_budget(budget: int) -> None:
    values = np.where(np.arange(10_000) % 7 == 0, np.nan, np.sin(np.arange(10_000)))
    assert len(downsample(values, budget)) <= budget


def test_summary_numbers() -> None:
    values = [4.0, 3.0, 2.0, float("nan"), 1.5, 1.2, 1.0, 0.9, 0.8, 0.7]
    walls = [1_700_000_000 + 2 * i for i in range(10)]
    summary = summarize(
        series("val/loss", values, steps=range(0, 100, 10), walls=walls),
        max_points=200,
        now=1_700_000_030,
    )
    assert summary.goal == "minimize"
    assert summary.last == 0.7 and summary.last_step == 90
    assert (summary.min.step, summary.min.value) == (90, 0.7)
    assert (summary.max.step, summary.max.value) == (0, 4.0)
    assert summary.best == summary.min
    assert (summary.nan_count, summary.inf_count, summary.first_non_finite_step) == (1, 0, 30)
    assert summary.trend == "decreasing"  # the recent window is the last 4 points: 1.0 .. 0.7
    assert summary.trend_window_steps == (60, 90)
    assert summary.steps_per_second == pytest.approx(5.0)  # 10 steps per 2 s
    assert summary.last_update == "2023-11-14T22:13:38Z"
    assert summary.seconds_since_update == pytest.approx(12.0)
    assert summary.series[3] == (30, "NaN")  # JSON-safe spelling, kept in the series


def test_since_step_limits_the_series_not_the_summary() -> None:
    summary = summarize(series("acc", [0.1, 0.9, 0.5, 0.6]), max_points=50, since_step=1)
    assert [step for step, _value in summary.series] == [2, 3]
    assert summary.best is not None and summary.best.value == 0.9 and summary.goal == "maximize"


def test_flat_trend_and_unknown_goal() -> None:
    summary = summarize(series("throughput", [5.0] * 20), max_points=10)
    assert summary.trend == "flat" and summary.goal is None and summary.best is None


def test_goal_inference_by_word() -> None:
    assert infer_goal("eval/f1") == "maximize"
    assert infer_goal("train_loss") == "minimize"
    assert infer_goal("glossary_size") is None  # "loss" inside another word is not a loss
