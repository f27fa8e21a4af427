"""The full-run estimate of jobs_preflight on synthetic step timestamps, against numbers worked
out by hand here (toolkits/jobs/preflight_timing.py gives the model). Times are sums of binary
fractions (0.125, 0.625, ...) so that every expected figure is exact."""

from __future__ import annotations

import itertools

from toolkits.jobs.preflight_timing import full_run_seconds, step_timing

STARTED = 1000.0


def series(startup: float, intervals: list[float], first: int = 1, every: int = 1):
    """(wall time, step) points: the first step logged ``startup`` s after STARTED, then one
    point per interval, ``every`` steps apart."""
    times = itertools.accumulate(intervals, initial=STARTED + startup)
    return [(t, first + i * every) for i, t in enumerate(times)]


def test_startup_is_separate_and_warmup_is_counted_once_not_extrapolated() -> None:
    # 6 slow warm-up intervals of 1 s (first-step allocation, autotune), then 14 of 0.125 s.
    points = series(3.0, [1.0] * 6 + [0.125] * 14)
    ended = points[-1][0] + 0.5
    timing = step_timing(STARTED, points, set(), ended, "metrics")
    assert timing is not None
    # A fifth of 20 intervals (4) is warm-up by rule; intervals 5 and 6 are still over 3x the
    # steady 0.125 s, so warm-up ends at step 7, 6 s after step 1.
    assert (timing.startup_s, timing.warmup_steps, timing.warmup_s) == (3.0, 6, 6.0)
    assert (timing.seconds_per_step, timing.steady_steps, timing.teardown_s) == (0.125, 14, 0.5)
    assert timing.eval_every is None and timing.eval_s is None
    # 1000 steps: 3 start-up + 6 warm-up + (1000 - 7) x 0.125 + 0.5 teardown.
    wall, basis = full_run_seconds(timing, 1000)
    assert wall == 3 + 6 + 993 * 0.125 + 0.5 == 133.625
    assert basis == (
        "3s start-up + 6s warm-up (6 steps) + 993 steps x 0.125s + 0.5s teardown "
        "(from metrics, 14 steady steps)"
    )
    # The plain mean over all intervals would have said 0.3875 s/step: 3.1x too slow.
    assert sum([1.0] * 6 + [0.125] * 14) / 20 == 0.3875


def test_periodic_evaluations_are_counted_at_their_own_period() -> None:
    # Steps 1..120, 0.125 s each; evaluating at steps 50 and 100 (every 50) and at the last step
    # 120 (the script's final one, as examples/train.py does) adds 2 s to the step it ends.
    intervals = [2.125 if step in (50, 100, 120) else 0.125 for step in range(2, 121)]
    points = series(4.0, intervals)
    timing = step_timing(STARTED, points, {50, 100, 120}, points[-1][0] + 0.5, "metrics")
    assert timing is not None
    # 119 intervals: ceil(0.2 x 119) = 24 are warm-up (to step 25, 3 s). Left out of the steady
    # ones: the interval ending at each evaluation and the one after (a script may log first).
    assert (timing.warmup_steps, timing.warmup_s) == (24, 3.0)
    assert (timing.seconds_per_step, timing.steady_steps) == (0.125, 95 - 5)
    # Extra time: (2 + 0 + 2 + 0 + 2) s over the 3 evaluations past step 25.
    assert (timing.eval_every, timing.eval_s, timing.eval_at_end) == (50, 2.0, True)
    # 1000 steps: evaluations at 50, 100, ..., 1000 (20; 1000 is on the period, no extra one).
    wall, basis = full_run_seconds(timing, 1000)
    assert wall == 4 + 3 + 975 * 0.125 + 20 * 2 + 0.5 == 169.375
    assert "20 evals x 2s" in basis
    # 1010 steps: the 20 periodic ones and the final one at 1010.
    assert full_run_seconds(timing, 1010)[0] == 4 + 3 + 985 * 0.125 + 21 * 2 + 0.5 == 172.625


def test_one_evaluation_at_the_last_step_takes_the_configs_period_or_counts_once() -> None:
    intervals = [0.125] * 48 + [1.125]  # steps 1..50, evaluating at 50 (1 s extra)
    points = series(2.0, intervals)
    ended = points[-1][0]
    unknown = step_timing(STARTED, points, {50}, ended, "metrics")
    configured = step_timing(STARTED, points, {50}, ended, "metrics", eval_every=25)
    assert unknown is not None and configured is not None
    # 49 intervals: 10 warm-up (1.25 s); the evaluation's extra is 1.125 - 0.125 = 1 s.
    assert (unknown.eval_every, unknown.eval_at_end, unknown.eval_s) == (None, True, 1.0)
    assert (configured.eval_every, configured.eval_at_end) == (25, False)
    base = 2 + 1.25 + (400 - 11) * 0.125
    assert full_run_seconds(unknown, 400)[0] == base + 1 * 1.0 == 52.875
    assert full_run_seconds(configured, 400)[0] == base + 16 * 1.0 == 67.875


def test_waits_in_the_steady_window_count_at_their_rate_a_mean_not_a_median() -> None:
    # Waiting for a core every third step, all along (a shared machine): the full run waits as
    # often, so the rate is the mean, 0.875 / 3 s, not the median interval, 0.125 s.
    # 38 intervals: ceil(0.2 x 38) = 8 warm-up, then 30 steady.
    contended = [0.125] * 8 + [0.125, 0.125, 0.625] * 10
    timing = step_timing(STARTED, series(2.0, contended), set(), None, "stdout")
    assert timing is not None and timing.warmup_steps == 8 and timing.steady_steps == 30
    assert timing.seconds_per_step == round(0.875 / 3, 6) == 0.291667
    assert timing.teardown_s is None and timing.basis == "stdout"
    # One 5 s wait among 32 steady intervals (40, 8 of them warm-up) counts at its share too:
    # (31 x 0.125 + 5.125) / 32 = 9 / 32.
    stalled = [0.125] * 30 + [5.125] + [0.125] * 9
    once = step_timing(STARTED, series(2.0, stalled), set(), None, "stdout")
    assert once is not None and once.warmup_steps == 8
    assert once.seconds_per_step == 9 / 32 == 0.28125


def test_a_log_every_ten_steps_gives_the_time_per_step() -> None:
    # A script printing every 10th step (10, 20, ..., 200), 1.25 s apart; stopped at the limit.
    points = series(2.0, [1.25] * 19, first=10, every=10)
    timing = step_timing(STARTED, points, set(), None, "stdout")
    assert timing is not None
    # Start-up covers steps 1..10; 4 intervals of warm-up (40 steps, 5 s) to step 50.
    assert (timing.first_step, timing.warmup_steps, timing.warmup_s) == (10, 40, 5.0)
    assert (timing.seconds_per_step, timing.steady_steps) == (0.125, 150)
    wall, basis = full_run_seconds(timing, 1000)
    assert wall == 2 + 5 + 950 * 0.125 == 125.75
    assert basis.endswith("950 steps x 0.125s + teardown not seen (from stdout, 150 steady steps)")


def test_too_few_points_give_no_timing_and_repeated_steps_count_once() -> None:
    assert step_timing(STARTED, [(STARTED + 1, 1)], set(), None, "stdout") is None
    # Step 2 logged twice (two series, or a line printed twice): the first time counts.
    points = [(1001.0, 1), (1001.5, 2), (1009.0, 2), (1002.0, 3)]
    timing = step_timing(STARTED, points, set(), None, "stdout")
    assert timing is not None and timing.seconds_per_step == 0.5
    # Times running backwards (a clock step, a mixed-up log) give no rate rather than a negative one.
    backwards = [(1005.0, 1), (1004.0, 2), (1003.0, 3)]
    assert step_timing(STARTED, backwards, set(), None, "stdout") is None
