"""Facts about a run, judged against the user's preferences. Deterministic: numbers in, words out.

For each watched metric the states that hold are computed with the numbers that justify them
(``nan_inf``, ``diverged``, ``plateau``, the threshold states, ``missing``); for the run as a
whole, ``stale`` and ``crashed``. Rules (see ``rules.py``) are evaluated over these facts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, Field

from toolkits.experiments.preferences import MetricPreference, Preferences
from toolkits.experiments.progress import job_progress_states
from toolkits.experiments.series import Series
from toolkits.experiments.sources import Snapshot
from toolkits.experiments.summary import infer_goal

if TYPE_CHECKING:
    from server.settings import Settings

Severity = Literal["ok", "warn", "fail"]
VerdictKind = Literal[
    "ok",
    "nan_inf",
    "diverged",
    "plateau",
    "threshold",
    "stale",
    "stalled",
    "stuck",
    "crashed",
    "missing",
    "no_data",
]
THRESHOLD_STATES = ("above_threshold", "below_threshold", "threshold_missed")


class Verdict(BaseModel):
    subject: str = Field(description="The metric, or 'run' for health verdicts.")
    kind: VerdictKind
    severity: Severity
    message: str
    numbers: dict[str, float | int | str | None] = Field(default_factory=dict)


@dataclass
class MetricFacts:
    name: str
    tag: str | None
    preference: MetricPreference
    last: float | None = None
    # state -> (evidence sentence, numbers)
    states: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    status_line: str = ""


@dataclass
class RunFacts:
    metrics: dict[str, MetricFacts]
    job_states: dict[str, tuple[str, dict[str, Any]]]
    verdicts: list[Verdict]


def match_tag(name: str, tags: list[str]) -> str | None:
    if name in tags:
        return name
    wanted = _normal(name)
    return next((tag for tag in tags if _normal(tag) == wanted), None)


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def judge(
    snapshot: Snapshot, prefs: Preferences, now: float, settings: Settings | None = None
) -> RunFacts:
    watched = dict(prefs.metrics)
    for rule in prefs.rules:
        for group in rule.condition:
            for term in group:
                name = getattr(term, "metric", None)
                if name and name not in watched:
                    watched[name] = MetricPreference(name=name, goal=infer_goal(name))
    tags = list(snapshot.series)
    metrics = {name: _metric_facts(pref, snapshot, tags) for name, pref in watched.items()}
    job_states = _job_states(snapshot, prefs, now)
    if settings is not None:
        job_states.update(job_progress_states(snapshot, settings, now))
    verdicts = [v for facts in metrics.values() for v in _metric_verdicts(facts, snapshot)]
    verdicts += _job_verdicts(snapshot, job_states)
    return RunFacts(metrics=metrics, job_states=job_states, verdicts=verdicts)


def _metric_facts(pref: MetricPreference, snapshot: Snapshot, tags: list[str]) -> MetricFacts:
    tag = match_tag(pref.name, tags)
    facts = MetricFacts(name=pref.name, tag=tag, preference=pref)
    if tag is None or not len(snapshot.series[tag]):
        shown = ", ".join(tags[:15]) or "none yet"
        facts.states["missing"] = (f"no tag matches {pref.name!r} (tags: {shown})", {})
        return facts
    series = snapshot.series[tag]
    facts.last = float(series.values[-1])
    _nan_inf(facts, series)
    judged = _judged(series, pref.after_step)
    if judged is None:
        facts.status_line = f"no points at or after step {pref.after_step} yet"
        return facts
    steps, values = judged
    _threshold(facts, steps, values)
    finite = [
        (s, v) for s, v in zip(steps.tolist(), values.tolist(), strict=True) if math.isfinite(v)
    ]
    if pref.goal and finite:
        _diverged(facts, finite)
        _plateau(facts, finite)
    facts.status_line = _status_line(facts, finite)
    return facts


def _judged(series: Series, after_step: int):
    keep = series.steps >= after_step
    if not keep.any():
        return None
    return series.steps[keep], series.values[keep]


def _nan_inf(facts: MetricFacts, series: Series) -> None:
    import numpy as np

    bad = ~np.isfinite(series.values)
    count = int(bad.sum())
    if count > facts.preference.nan_tolerance:
        first = int(series.steps[np.argmax(bad)])
        facts.states["nan_inf"] = (
            f"{facts.name} has {count} NaN/Inf value(s) of {len(series)}, the first at step "
            f"{first} (tolerance {facts.preference.nan_tolerance})",
            {"non_finite": count, "first_non_finite_step": first, "points": len(series)},
        )


def _threshold(facts: MetricFacts, steps, values) -> None:
    pref = facts.preference
    if pref.threshold is None:
        return
    last, step = float(values[-1]), int(steps[-1])
    limit = pref.threshold
    numbers = {"last": _num(last), "step": step, "threshold": limit}
    if last > limit:
        facts.states["above_threshold"] = (
            f"{facts.name} is {last:.4g} at step {step}, above its threshold {limit:g}",
            numbers,
        )
    if last < limit:
        facts.states["below_threshold"] = (
            f"{facts.name} is {last:.4g} at step {step}, below its threshold {limit:g}",
            numbers,
        )
    missed = {"minimize": "above_threshold", "maximize": "below_threshold"}.get(pref.goal or "")
    if missed and (missed in facts.states or math.isnan(last)):
        where = "above" if pref.goal == "minimize" else "below"
        facts.states["threshold_missed"] = (
            f"{facts.name} is {last:.4g} at step {step}: {where} its threshold {limit:g} "
            f"({pref.goal})",
            numbers,
        )


def _diverged(facts: MetricFacts, finite: list[tuple[int, float]]) -> None:
    pref = facts.preference
    (first_step, first), (last_step, last) = finite[0], finite[-1]
    margin = (pref.divergence_factor - 1) * max(abs(first), 1e-12)
    worse = last - first if pref.goal == "minimize" else first - last
    if len(finite) >= 2 and worse > margin:
        direction = "rose" if pref.goal == "minimize" else "fell"
        facts.states["diverged"] = (
            f"{facts.name} {direction} from {first:.4g} (step {first_step}) to {last:.4g} "
            f"(step {last_step}), past {pref.divergence_factor:g}x its starting value",
            {
                "first": first,
                "first_step": first_step,
                "last": last,
                "last_step": last_step,
                "divergence_factor": pref.divergence_factor,
            },
        )


def _plateau(facts: MetricFacts, finite: list[tuple[int, float]]) -> None:
    pref = facts.preference
    if len(finite) <= pref.patience:
        return
    earlier, recent = finite[: -pref.patience], finite[-pref.patience :]
    pick = min if pref.goal == "minimize" else max
    best_step, best = pick(earlier, key=lambda point: point[1])
    _recent_step, recent_best = pick(recent, key=lambda point: point[1])
    gain = best - recent_best if pref.goal == "minimize" else recent_best - best
    if gain <= pref.min_delta:
        facts.states["plateau"] = (
            f"{facts.name}: best {best:.4g} at step {best_step}; the last {pref.patience} points "
            f"(steps {recent[0][0]}-{recent[-1][0]}) did not improve on it by more than "
            f"{pref.min_delta:g} (best of them {recent_best:.4g})",
            {
                "best": best,
                "best_step": best_step,
                "recent_best": recent_best,
                "patience": pref.patience,
                "min_delta": pref.min_delta,
            },
        )


def _status_line(facts: MetricFacts, finite: list[tuple[int, float]]) -> str:
    if not finite:
        return f"{facts.name}: no finite value yet"
    step, last = finite[-1]
    text = f"{facts.name} = {last:.4g} at step {step}"
    goal = facts.preference.goal
    if goal:
        best_step, best = (min if goal == "minimize" else max)(finite, key=lambda p: p[1])
        text += f" (best {best:.4g} at step {best_step}, {goal})"
    if facts.preference.threshold is not None:
        text += f"; threshold {facts.preference.threshold:g}"
    return text


_SEVERITY: dict[str, Severity] = {
    "nan_inf": "fail",
    "diverged": "fail",
    "plateau": "warn",
    "missing": "warn",
}


def _metric_verdicts(facts: MetricFacts, snapshot: Snapshot) -> list[Verdict]:
    verdicts = []
    for state, (message, numbers) in facts.states.items():
        if state in ("above_threshold", "below_threshold"):
            continue  # reported once, as the goal-aware threshold verdict
        if state == "threshold_missed":
            # While the run goes on a missed target is a warning; once it ended, a failure.
            finished = snapshot.job is not None and not snapshot.job.running
            verdicts.append(
                Verdict(
                    subject=facts.name,
                    kind="threshold",
                    message=message,
                    severity="fail" if finished else "warn",
                    numbers=numbers,
                )
            )
            continue
        verdicts.append(
            Verdict(
                subject=facts.name,
                kind=cast(VerdictKind, state),
                severity=_SEVERITY[state],
                message=message,
                numbers=numbers,
            )
        )
    if not verdicts:
        verdicts.append(
            Verdict(
                subject=facts.name,
                kind="ok",
                severity="ok",
                message=facts.status_line or f"{facts.name}: ok",
                numbers={"last": _num(facts.last)},
            )
        )
    return verdicts


def _job_states(
    snapshot: Snapshot, prefs: Preferences, now: float
) -> dict[str, tuple[str, dict[str, Any]]]:
    states: dict[str, tuple[str, dict[str, Any]]] = {}
    job = snapshot.job
    if job is not None and job.crashed:
        states["crashed"] = (
            f"job {job.job_id} is {job.status} (exit code {job.exit_code})",
            {"status": job.status, "exit_code": job.exit_code},
        )
    limit = prefs.health.max_minutes_without_step
    latest = snapshot.last_wall_time
    what = "no new metric"
    if latest is None and job is not None and job.running and job.started_at:
        latest, what = job.started_at, "no metric at all since the job started"
    # A job that has ended is not stale: it is finished (or crashed, which is its own verdict).
    if limit is not None and latest is not None and (job is None or job.running):
        minutes = (now - latest) / 60
        if minutes > limit:
            states["stale"] = (
                f"{what} for {minutes:.1f} min (limit {limit:g} min)",
                {"minutes_without_step": round(minutes, 2), "limit_minutes": limit},
            )
    return states


def _job_verdicts(
    snapshot: Snapshot, states: dict[str, tuple[str, dict[str, Any]]]
) -> list[Verdict]:
    verdicts = [
        Verdict(
            subject="run",
            kind=cast(VerdictKind, kind),
            severity="fail",
            message=message,
            numbers=numbers,
        )
        for kind, (message, numbers) in states.items()
    ]
    if not snapshot.series:
        detail = "; ".join(snapshot.problems[:2]) or "the source holds no scalar metrics"
        verdicts.append(Verdict(subject="run", kind="no_data", severity="warn", message=detail))
    return verdicts


def _num(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
