"""PointBuffer: points appended one at a time and bulk columns keep their order, and a series
handed out earlier never changes when the buffer grows."""

from __future__ import annotations

import numpy as np

from toolkits.experiments.series import PointBuffer


def test_appends_and_bulk_columns_keep_their_order() -> None:
    buffer = PointBuffer()
    buffer.append(0, 0.5, 10.0)
    buffer.extend(np.array([1, 2]), np.array([0.25, 0.125]), np.array([11.0, np.nan]))
    buffer.append(3, -1.0, 13.0)
    series = buffer.freeze("loss")
    assert series.steps.tolist() == [0, 1, 2, 3]
    assert series.values.tolist() == [0.5, 0.25, 0.125, -1.0]
    assert repr(series.wall_times.tolist()) == repr([10.0, 11.0, np.nan, 13.0])
    assert (series.steps.dtype, series.values.dtype) == (np.int64, np.float64)
    assert len(buffer) == 4


def test_an_earlier_series_keeps_its_points_when_the_buffer_grows() -> None:
    buffer = PointBuffer()
    buffer.extend(np.arange(3), np.array([1.0, 2.0, 3.0]), np.zeros(3))
    before = buffer.freeze("loss")
    buffer.extend(np.arange(3, 5000), np.full(4997, 9.0), np.zeros(4997))  # reallocates
    buffer.append(5000, 7.0, 0.0)
    after = buffer.freeze("loss")
    assert before.values.tolist() == [1.0, 2.0, 3.0]
    assert len(after) == 5001 and after.values[2] == 3.0 and after.values[-1] == 7.0
    assert after.steps.tolist() == list(range(5001))


def test_bulk_columns_are_copied_so_the_caller_may_reuse_them() -> None:
    steps, values, walls = np.arange(4), np.ones(4), np.zeros(4)
    buffer = PointBuffer()
    buffer.extend(steps, values, walls)
    values[:] = 5.0
    assert buffer.freeze("loss").values.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_an_empty_buffer_freezes_to_an_empty_series() -> None:
    series = PointBuffer().freeze("loss")
    assert len(series) == 0 and series.tag == "loss"
