"""Each verdict kind, triggered by a crafted TensorBoard log and judged by preferences.md rules."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from experiments_world import write_scalars

from server.errors import UserError
from toolkits.experiments import core

PREFS = """
# Preferences

```yaml
metrics:
  val/loss: {goal: minimize, threshold: 0.5, patience: 3}
  val/accuracy: {goal: maximize, threshold: 0.8, patience: 3}
health:
  max_minutes_without_step: 10
rules:
  - name: blew up
    when: train/loss nan or val/loss diverged
    action: {lower_lr: {factor: 0.1}}
  - name: stalled above target
    when: val/loss above_threshold and val/accuracy plateau
    action: {lower_lr: {factor: 0.5}}
  - name: exploding
    when: train/loss > 100
    action: stop
  - name: stuck
    when: stale
    action: {notify: "look at the logs"}
```
"""
IMPROVING_ACCURACY = [0.2, 0.4, 0.6, 0.7, 0.85, 0.9]
FALLING_LOSS = [2.0, 1.2, 0.8, 0.6, 0.45, 0.4]


def check(settings, store, log_dir: Path, now: float | None = None):
    return core.check(settings, store, str(log_dir), PREFS, now=now)


def verdict(report, subject: str) -> list[tuple[str, str]]:
    return [(v.kind, v.severity) for v in report.verdicts if v.subject == subject]


def fired(report) -> list[str]:
    return [rule.name for rule in report.rules if rule.fired]


def test_healthy_run_passes(settings, store, tmp_path) -> None:
    write_scalars(
        tmp_path,
        {
            "train/loss": [2.0, 1.0, 0.5],
            "val/loss": FALLING_LOSS,
            "val/accuracy": IMPROVING_ACCURACY,
        },
    )
    report = check(settings, store, tmp_path)
    assert report.passed and report.status == "ok", report.summary
    assert verdict(report, "val/loss") == [("ok", "ok")]
    assert "val/loss = 0.4 at step 5 (best 0.4 at step 5, minimize); threshold 0.5" in (
        report.verdicts[0].message
    )
    assert fired(report) == [] and report.actions == []


def test_nan_fires_the_first_rule_with_its_numbers(settings, store, tmp_path) -> None:
    loss = [2.0, 1.5, float("nan"), float("nan"), float("inf")]
    write_scalars(
        tmp_path, {"train/loss": loss, "val/loss": FALLING_LOSS, "val/accuracy": IMPROVING_ACCURACY}
    )
    report = check(settings, store, tmp_path)
    assert not report.passed and report.status == "action_needed"
    assert verdict(report, "train/loss") == [("nan_inf", "fail")]
    nan = next(v for v in report.verdicts if v.kind == "nan_inf")
    assert nan.numbers == {"non_finite": 3, "first_non_finite_step": 2, "points": 5}
    # inf > 100 also fires the later rule; the first one written is the recommendation.
    assert fired(report) == ["blew up", "exploding"]
    assert [a.rule for a in report.actions] == ["blew up", "exploding"]
    rule = report.rules[0]
    assert rule.evidence == [
        "train/loss has 3 NaN/Inf value(s) of 5, the first at step 2 (tolerance 0)"
    ]
    action = report.actions[0]
    assert (action.rule, action.action, action.call) == ("blew up", "lower_lr", None)
    assert "not a job" in (action.note or "")


def test_divergence(settings, store, tmp_path) -> None:
    write_scalars(tmp_path, {"val/loss": [1.0, 0.8, 1.5, 2.6], "val/accuracy": IMPROVING_ACCURACY})
    report = check(settings, store, tmp_path)
    assert ("diverged", "fail") in verdict(report, "val/loss")
    diverged = next(v for v in report.verdicts if v.kind == "diverged")
    assert diverged.numbers["first"] == 1.0 and diverged.numbers["last"] == pytest.approx(2.6)
    assert "rose from 1 (step 0) to 2.6 (step 3), past 2x its starting value" in diverged.message
    assert fired(report) == ["blew up"]


def test_plateau_and_threshold_must_both_hold_for_the_gentle_rule(
    settings, store, tmp_path
) -> None:
    stuck_loss = [1.0, 0.9, 0.8, 0.82, 0.81, 0.83]
    write_scalars(
        tmp_path / "stuck",
        {"val/loss": stuck_loss, "val/accuracy": [0.5, 0.6, 0.62, 0.61, 0.6, 0.62]},
    )
    report = check(settings, store, tmp_path / "stuck")
    kinds = verdict(report, "val/loss")
    assert ("plateau", "warn") in kinds and ("threshold", "warn") in kinds
    assert ("plateau", "warn") in verdict(report, "val/accuracy")
    assert fired(report) == ["stalled above target"]
    evidence = report.rules[1].evidence
    assert evidence[0] == "val/loss is 0.83 at step 5, above its threshold 0.5"
    assert evidence[1].startswith(
        "val/accuracy: best 0.62 at step 2; the last 3 points (steps 3-5) did not improve on it"
    )
    # Same loss, but accuracy still climbing: the rule's "and" does not hold.
    write_scalars(
        tmp_path / "climbing", {"val/loss": stuck_loss, "val/accuracy": IMPROVING_ACCURACY}
    )
    climbing = check(settings, store, tmp_path / "climbing")
    assert fired(climbing) == []
    assert climbing.passed  # warnings alone (a missed threshold mid-run) do not fail a check
    assert climbing.status == "attention"


def test_comparison_term(settings, store, tmp_path) -> None:
    write_scalars(
        tmp_path,
        {"train/loss": [1.0, 150.0], "val/loss": FALLING_LOSS, "val/accuracy": IMPROVING_ACCURACY},
    )
    report = check(settings, store, tmp_path)
    assert fired(report) == ["exploding"]
    assert report.rules[2].evidence == ["train/loss is 150 (train/loss > 100)"]
    assert report.actions[0].action == "stop"


def test_stale_run(settings, store, tmp_path) -> None:
    hour_ago = time.time() - 3600
    write_scalars(
        tmp_path,
        {"val/loss": FALLING_LOSS, "val/accuracy": IMPROVING_ACCURACY},
        wall_start=hour_ago,
    )
    report = check(settings, store, tmp_path)
    stale = next(v for v in report.verdicts if v.kind == "stale")
    assert stale.severity == "fail" and stale.numbers["limit_minutes"] == 10
    assert 59 < stale.numbers["minutes_without_step"] < 62
    assert fired(report) == ["stuck"]
    assert report.actions[0].note == "look at the logs"
    fresh = check(settings, store, tmp_path, now=hour_ago + 300)
    assert not any(v.kind == "stale" for v in fresh.verdicts)


def test_missing_metric_and_empty_source(settings, store, tmp_path) -> None:
    write_scalars(tmp_path / "run", {"loss": [1.0]})
    report = check(settings, store, tmp_path / "run")
    missing = [v for v in report.verdicts if v.kind == "missing"]
    assert {v.subject for v in missing} == {"val/loss", "val/accuracy", "train/loss"}
    assert "no tag matches 'val/loss' (tags: loss)" in missing[0].message
    (tmp_path / "empty").mkdir()
    empty = check(settings, store, tmp_path / "empty")
    assert ("no_data", "warn") in verdict(empty, "run")


def test_bad_preferences_are_reported_before_reading_the_source(settings, store, tmp_path) -> None:
    with pytest.raises(UserError, match=r"^preferences:4: YAML error"):
        core.check(
            settings, store, str(tmp_path / "does-not-exist"), "# p\n\n```yaml\nmetrics: [\n```\n"
        )


def test_after_step_ignores_warmup(settings, store, tmp_path) -> None:
    # Logged before the first real step, the 0.1 would make every later value look diverged.
    write_scalars(tmp_path, {"loss": [0.1, 5.0, 4.0, 3.0]})
    prefs = "```yaml\nmetrics:\n  loss: {goal: minimize%s}\n```\n"
    naive = core.check(settings, store, str(tmp_path), prefs % "")
    assert ("diverged", "fail") in verdict(naive, "loss")
    warmed = core.check(settings, store, str(tmp_path), prefs % ", after_step: 1")
    assert verdict(warmed, "loss") == [("ok", "ok")]
