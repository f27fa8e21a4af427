"""The condition language of preferences rules, small enough to read aloud.

    val/loss nan or val/loss diverged
    val/loss above_threshold and val/accuracy plateau
    train/loss > 5
    stale
    crashed

A condition is terms joined by ``and`` / ``or`` (``and`` binds tighter; no parentheses). A term
is ``<metric> [is] <state>``, ``<metric> <op> <number>`` or a job state (``stale``, ``crashed``,
``stalled``: alive but silent; ``stuck``: queued too long).
Metric names are single words (``val/loss``, ``eval.acc``), so whitespace separates tokens.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

# Spelling people use -> the state the verdicts compute.
METRIC_STATES = {
    "nan": "nan_inf",
    "inf": "nan_inf",
    "nan_inf": "nan_inf",
    "nan_or_inf": "nan_inf",
    "non_finite": "nan_inf",
    "diverged": "diverged",
    "diverging": "diverged",
    "diverges": "diverged",
    "plateau": "plateau",
    "plateaued": "plateau",
    "stalled": "plateau",
    "stalls": "plateau",
    "stagnant": "plateau",
    "above_threshold": "above_threshold",
    "below_threshold": "below_threshold",
    "threshold_exceeded": "threshold_missed",
    "threshold_missed": "threshold_missed",
    "off_target": "threshold_missed",
    "missing": "missing",
}
JOB_STATES = {
    "stale": "stale",
    "crashed": "crashed",
    "failed": "crashed",
    "stalled": "stalled",
    "hung": "stalled",
    "stuck": "stuck",
}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FILLER = {"is", "has", "was"}


@dataclass(frozen=True)
class MetricIs:
    metric: str
    state: str

    def describe(self) -> str:
        return f"{self.metric} {self.state}"


@dataclass(frozen=True)
class MetricCompare:
    metric: str
    op: str
    number: float

    def describe(self) -> str:
        return f"{self.metric} {self.op} {self.number:g}"

    def holds(self, value: float | None) -> bool:
        return (
            value is not None and not math.isnan(value) and COMPARISONS[self.op](value, self.number)
        )


@dataclass(frozen=True)
class JobIs:
    state: str

    def describe(self) -> str:
        return self.state


Term = MetricIs | MetricCompare | JobIs
# Disjunctive normal form as written: any of the groups, each needing all of its terms.
Condition = list[list[Term]]


class ConditionError(ValueError):
    pass


def parse_condition(text: str) -> Condition:
    tokens = text.replace(",", " ").split()
    if not tokens:
        raise ConditionError("the condition is empty")
    groups: Condition = [[]]
    current: list[str] = []
    for token in [*tokens, "or"]:
        word = token.lower()
        if word in ("and", "or"):
            if not current:
                raise ConditionError(f"'{token}' needs a term on both sides")
            groups[-1].append(_term(current))
            current = []
            if word == "or":
                groups.append([])
        else:
            current.append(token)
    groups.pop()  # the sentinel "or" opened an empty group
    return groups


def _term(words: list[str]) -> Term:
    if len(words) == 1:
        state = JOB_STATES.get(words[0].lower())
        if state:
            return JobIs(state)
        raise ConditionError(
            f"'{words[0]}' is not a job state ({', '.join(sorted(JOB_STATES))}); "
            f"metric terms look like '<metric> plateau' or '<metric> > 0.5'"
        )
    metric, rest = words[0], [w for w in words[1:] if w.lower() not in _FILLER]
    if len(rest) == 2 and rest[0] in COMPARISONS:
        try:
            return MetricCompare(metric, rest[0], float(rest[1]))
        except ValueError:
            raise ConditionError(f"'{rest[1]}' after '{rest[0]}' is not a number") from None
    state = "_".join(w.lower() for w in rest)
    if state in METRIC_STATES:
        return MetricIs(metric, METRIC_STATES[state])
    raise ConditionError(
        f"'{' '.join(words)}' is not a term I know. After a metric name use one of: "
        f"{', '.join(sorted(METRIC_STATES))}, or a comparison like '> 0.5'"
    )


def metrics_named(condition: Condition) -> set[str]:
    return {t.metric for group in condition for t in group if not isinstance(t, JobIs)}


def describe(condition: Condition) -> str:
    return " or ".join(" and ".join(t.describe() for t in group) for group in condition)
