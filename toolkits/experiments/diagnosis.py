"""The default judgment of a careful ML engineer, for any run, with no preferences file.

Per metric whose direction is known (from the preferences, else from its name): NaN/Inf,
diverging, still improving, converged, plateaued, learning-rate-too-low signs and noisy-metric
warnings; per train/validation pair: overfitting, with the step where the gap opened. Every
finding carries its evidence (steps and values) and a suggested next action. Where
preferences.md names a metric, its goal, patience, min_delta, divergence_factor and after_step
override the defaults used here.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from toolkits.experiments.summary import Goal, infer_goal

if TYPE_CHECKING:
    import numpy as np

    from toolkits.experiments.preferences import MetricPreference, Preferences
    from toolkits.experiments.rules import CheckReport
    from toolkits.experiments.sources import Snapshot

State = Literal[
    "nan", "diverging", "improving", "converged", "plateaued", "lr_too_low", "noisy", "overfitting"
]
Severity = Literal["ok", "warn", "fail"]

MIN_POINTS = 4
MAX_FINDINGS = 40
# Defaults a preferences file may override per metric.
DIVERGENCE_FACTOR = 2.0
# Relative change of the recent window's mean under which a metric counts as flat.
FLAT_BELOW = 0.01
# A run that moved less than this (relative to its start) over its whole length barely learned.
BARELY_LEARNED = 0.1
# Point-to-point scatter (relative to the level) above which a metric is called noisy.
NOISY_ABOVE = 0.25
# Validation worse than its best by this fraction (or by the noise, if larger) = overfitting.
OVERFIT_MARGIN = 0.03
# Most urgent first: the first finding is the headline.
PRIORITY: tuple[State, ...] = (
    "nan",
    "diverging",
    "overfitting",
    "lr_too_low",
    "plateaued",
    "noisy",
    "converged",
    "improving",
)
_VAL_WORDS = ("val", "valid", "validation", "eval", "test", "dev")
_TRAIN_WORDS = ("train", "training")


class Finding(BaseModel):
    metric: str = Field(description="The tag, or 'train vs val' tags for overfitting.")
    state: State
    severity: Severity
    evidence: str = Field(description="What was seen, with steps and values.")
    next_action: str = Field(description="What a careful engineer would do next.")
    numbers: dict[str, float | int | str | None] = Field(default_factory=dict)


def diagnose(snapshot: Snapshot, prefs: Preferences | None = None) -> list[Finding]:
    findings: list[Finding] = []
    chosen: dict[str, MetricPreference | None] = {}
    for tag in snapshot.series:
        pref = _preference_for(tag, prefs)
        if (pref.goal if pref and pref.goal else infer_goal(tag)) is not None:
            chosen[tag] = pref
    for tag, pref in chosen.items():
        series = snapshot.series[tag]
        after = pref.after_step if pref else 0
        keep = series.steps >= after
        findings += diagnose_metric(
            tag, series.steps[keep], series.values[keep], _goal(tag, pref), pref
        )
    for train_tag, val_tag in pairs(list(chosen)):
        train, val = snapshot.series[train_tag], snapshot.series[val_tag]
        found = overfitting(train_tag, val_tag, train.steps, train.values, val.steps, val.values)
        if found:  # it explains the validation metric's plateau better than "plateaued" does
            findings = [f for f in findings if (f.metric, f.state) != (val_tag, "plateaued")]
            findings.append(found)
    findings.sort(key=lambda f: PRIORITY.index(f.state))
    return findings[:MAX_FINDINGS]


def _preference_for(tag: str, prefs: Preferences | None) -> MetricPreference | None:
    if prefs is None:
        return None
    from toolkits.experiments.verdicts import match_tag

    return next((p for name, p in prefs.metrics.items() if match_tag(name, [tag])), None)


def _goal(tag: str, pref: MetricPreference | None) -> Goal:
    return (pref.goal if pref and pref.goal else infer_goal(tag)) or "minimize"


def diagnose_metric(
    tag: str, steps: np.ndarray, values: np.ndarray, goal: Goal, pref: MetricPreference | None
) -> list[Finding]:
    import numpy as np

    if len(values) == 0:
        return []
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        before = values[:first][np.isfinite(values[:first])]
        return [
            Finding(
                metric=tag,
                state="nan",
                severity="fail",
                evidence=f"{tag} became {_fmt(values[first])} at step {int(steps[first])}"
                + (f" (last finite value {before[-1]:.4g})" if len(before) else "")
                + f"; {int(bad.sum())} of {len(values)} points are NaN/Inf",
                next_action="stop the run; restart with the learning rate lowered 10x and "
                "gradient clipping (max_norm 1.0); check the data for NaN/Inf inputs",
                numbers={"first_non_finite_step": int(steps[first]), "non_finite": int(bad.sum())},
            )
        ]
    if len(values) < MIN_POINTS:
        return []
    sign = 1.0 if goal == "minimize" else -1.0  # "loss-like" = lower is better after *sign
    loss = sign * values
    factor = pref.divergence_factor if pref else DIVERGENCE_FACTOR
    first, last = float(values[0]), float(values[-1])
    best_i = int(np.argmin(loss))
    best = float(values[best_i])
    scale = max(abs(first), 1e-12)
    # Levels are medians of the first and last tenth, so one noisy point cannot call divergence.
    edge = max(1, len(values) // 10)
    start, end = float(np.median(values[:edge])), float(np.median(values[-edge:]))
    if sign * (end - start) > (factor - 1) * max(abs(start), 1e-12):
        return [
            Finding(
                metric=tag,
                state="diverging",
                severity="fail",
                evidence=f"{tag} went from {start:.4g} (median of steps {int(steps[0])}-"
                f"{int(steps[edge - 1])}) to {end:.4g} (steps {int(steps[-edge])}-"
                f"{int(steps[-1])}), past {factor:g}x its start; best {best:.4g} at step "
                f"{int(steps[best_i])}",
                next_action="restart from the best checkpoint with the learning rate lowered "
                "3-10x (add warmup or gradient clipping if it diverged early)",
                numbers={
                    "start_level": start,
                    "end_level": end,
                    "best": best,
                    "best_step": int(steps[best_i]),
                },
            )
        ]
    findings: list[Finding] = []
    window = max(MIN_POINTS, min(1000, len(values) // 3))
    tail, tail_steps = values[-window:], steps[-window:]
    half = window // 2
    early, late = float(tail[:half].mean()), float(tail[half:].mean())
    level = max(abs(early), abs(late), 1e-12)
    change = sign * (early - late) / level  # > 0: improving
    flat_below = max(FLAT_BELOW, (pref.min_delta / level) if pref else 0.0)
    noise = _noise(tail)
    learned = sign * (first - best) / scale
    span = f"steps {int(tail_steps[0])}-{int(tail_steps[-1])}"
    numbers = {
        "first": first,
        "last": last,
        "best": best,
        "best_step": int(steps[best_i]),
        "recent_change": round(change, 5),
        "noise": round(noise, 5),
        "improved_from_start": round(learned, 5),
    }
    patience = pref.patience if pref else max(MIN_POINTS, window // 2)
    stale_best = len(values) - 1 - best_i >= patience
    # Slow learners still set new bests at the end, by steps too small to count as a trend.
    creeping = best_i >= len(values) - 2 and _steady(values, sign) and learned > 0
    if creeping or (change > flat_below and change > noise / math.sqrt(half)):
        if learned < BARELY_LEARNED and (creeping or _steady(tail, sign)):
            findings.append(
                Finding(
                    metric=tag,
                    state="lr_too_low",
                    severity="warn",
                    evidence=f"{tag} improves slowly and steadily: {first:.4g} -> {last:.4g} over "
                    f"steps {int(steps[0])}-{int(steps[-1])} ({learned:.1%} in all), still "
                    f"{change:.1%} better over {span}",
                    next_action="raise the learning rate 3x (or shorten warmup) and compare a "
                    "short run of each",
                    numbers=numbers,
                )
            )
        else:
            findings.append(
                Finding(
                    metric=tag,
                    state="improving",
                    severity="ok",
                    evidence=f"{tag} still improving: mean {early:.4g} -> {late:.4g} over {span}"
                    f" ({change:+.1%}); best {best:.4g} at step {int(steps[best_i])}",
                    next_action="let it run; if the budget allows, train longer",
                    numbers=numbers,
                )
            )
    elif learned >= BARELY_LEARNED and not (stale_best and sign * (last - best) > noise * level):
        findings.append(
            Finding(
                metric=tag,
                state="converged",
                severity="ok",
                evidence=f"{tag} flat at {late:.4g} over {span} ({change:+.1%}) after improving "
                f"{learned:.0%} from {first:.4g}; best {best:.4g} at step {int(steps[best_i])}",
                next_action="stop here (more steps buy little), or lower the learning rate "
                "for a final gain",
                numbers=numbers,
            )
        )
    else:
        findings.append(
            Finding(
                metric=tag,
                state="plateaued",
                severity="warn",
                evidence=f"{tag} has not improved on its best {best:.4g} (step "
                f"{int(steps[best_i])}) for {len(values) - 1 - best_i} points; recent mean "
                f"{late:.4g} over {span}; {learned:.1%} better than the start",
                next_action="try a learning-rate change (decay, or 3x higher if it barely "
                "learned), or stop and change the model or data",
                numbers=numbers,
            )
        )
    if noise > NOISY_ABOVE:
        findings.append(
            Finding(
                metric=tag,
                state="noisy",
                severity="warn",
                evidence=f"{tag} jumps {noise:.0%} of its level from point to point over {span} "
                f"(range {float(tail.min()):.4g}-{float(tail.max()):.4g})",
                next_action="judge it on a smoothed curve; raise the batch or eval-set size, "
                "or lower the learning rate",
                numbers=numbers,
            )
        )
    return findings


def _noise(tail: np.ndarray) -> float:
    """Scatter of the detrended differences, relative to the level (robust to a steady trend)."""
    import numpy as np

    diffs = np.diff(tail)
    if len(diffs) < 2:
        return 0.0
    spread = float(np.median(np.abs(diffs - np.median(diffs)))) * 1.4826 / math.sqrt(2)
    return spread / max(float(np.abs(tail).mean()), 1e-12)


def _steady(tail: np.ndarray, sign: float) -> bool:
    import numpy as np

    diffs = sign * np.diff(tail)
    return bool((diffs <= 0).mean() >= 0.7)


def _words(tag: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", tag.lower()) if w]


def pairs(tags: list[str]) -> list[tuple[str, str]]:
    """(train tag, validation tag) pairs that measure the same thing: train/loss ~ val/loss."""

    def key(tag: str, words: tuple[str, ...]) -> tuple[str, ...] | None:
        parts = _words(tag)
        if not any(w in words for w in parts):
            return None
        return tuple(w for w in parts if w not in words)

    trains = {key(t, _TRAIN_WORDS): t for t in tags if key(t, _TRAIN_WORDS)}
    bare = {tuple(_words(t)): t for t in tags}
    found = []
    for tag in tags:
        rest = key(tag, _VAL_WORDS)
        if rest is None:
            continue
        train = trains.get(rest) or bare.get(rest)  # val_loss pairs with train_loss, else loss
        if train and train != tag:
            found.append((train, tag))
    return found


def overfitting(
    train_tag: str,
    val_tag: str,
    train_steps: np.ndarray,
    train_values: np.ndarray,
    val_steps: np.ndarray,
    val_values: np.ndarray,
) -> Finding | None:
    """Validation worsening past its best while training keeps improving."""
    import numpy as np

    goal = infer_goal(val_tag) or "minimize"
    sign = 1.0 if goal == "minimize" else -1.0
    ok_val = np.isfinite(val_values)
    ok_train = np.isfinite(train_values)
    if ok_val.sum() < MIN_POINTS or ok_train.sum() < MIN_POINTS:
        return None
    v_steps, v_vals = val_steps[ok_val], val_values[ok_val]
    t_steps, t_vals = train_steps[ok_train], train_values[ok_train]
    order = np.argsort(t_steps, kind="stable")
    t_steps, t_vals = t_steps[order], t_vals[order]
    best_i = int(np.argmin(sign * v_vals))
    if best_i >= len(v_vals) - 2:
        return None  # the best is among the last two evaluations: nothing opened yet
    best, last = float(v_vals[best_i]), float(v_vals[-1])
    margin = max(OVERFIT_MARGIN * abs(best), 2 * _noise(v_vals) * abs(best))
    after = sign * (v_vals[best_i + 1 :] - best)
    if sign * (last - best) <= margin or (after[-2:] <= margin / 2).any():
        return None
    # Train, smoothed over the interval since the previous evaluation, at each val step.
    window = max(1, len(t_steps) // max(1, len(v_steps)))
    smooth = np.convolve(t_vals, np.ones(window) / window, mode="same") if window > 1 else t_vals
    train_at = np.interp(v_steps, t_steps, smooth)
    if sign * (train_at[-1] - train_at[best_i]) >= 0:
        return None  # training did not improve either: that is not overfitting
    gap = sign * (v_vals - train_at)
    opened = int(v_steps[best_i])
    return Finding(
        metric=f"{train_tag} vs {val_tag}",
        state="overfitting",
        severity="warn",
        evidence=f"{val_tag} best {best:.4g} at step {opened}, then worse: {last:.4g} at step "
        f"{int(v_steps[-1])}, while {train_tag} kept improving ({float(train_at[best_i]):.4g} "
        f"-> {float(train_at[-1]):.4g}); the gap opened at step {opened} "
        f"({float(gap[best_i]):.4g} -> {float(gap[-1]):.4g})",
        next_action=f"keep the checkpoint from step {opened} (early stopping); add "
        "regularisation (weight decay, dropout, augmentation) or more data before training longer",
        numbers={
            "gap_opened_step": opened,
            "val_best": best,
            "val_last": last,
            "gap_at_open": round(float(gap[best_i]), 6),
            "gap_last": round(float(gap[-1]), 6),
        },
    )


def _fmt(value: float) -> str:
    return "NaN" if math.isnan(value) else "Inf" if value > 0 else "-Inf"


def headline(findings: list[Finding]) -> str:
    worst = findings[0] if findings else None
    return worst.evidence if worst else "no metric with a known direction to diagnose"


def attach(report: CheckReport, findings: list[Finding], preferences_given: bool) -> CheckReport:
    """Add the diagnosis to a check. Without a preferences file it is the judgment itself."""
    report.diagnosis = findings
    if preferences_given:
        return report
    failing = any(f.severity == "fail" for f in findings)
    warning = any(f.severity == "warn" for f in findings)
    if failing:
        report.status, report.passed = "action_needed", False
    elif warning and report.status == "ok":
        report.status = "attention"
    if findings and report.status != "ok" and not report.actions:
        head = next(f for f in findings if f.severity != "ok") if (failing or warning) else None
        report.summary = f"{head.evidence}. Next: {head.next_action}" if head else report.summary
    elif findings:
        report.summary = "no preferences file: " + "; ".join(
            f"{f.metric} {f.state}" for f in findings[:4]
        )
    return report
