"""What the interventions of a restart chain gained: for each job of the chain, the change that
made it, the metric it ended with (and the change against the job before), its wall time and
estimated cost; for the chain, the totals and whether it ended better than its first run.

Shown by experiments_compare (given a chain), in the journal (restart entries and watch's last
entry) and in run_ml_task's final report. Cost: local jobs are free; Hugging Face Jobs are
priced from the hardware table (toolkits/jobs/hardware.py); other backends are unknown (None).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from pydantic import BaseModel, Field

from server.settings import Settings
from server.state import StateStore
from toolkits.experiments.sources import locate, read
from toolkits.experiments.summary import Value, encode, infer_goal

log = logging.getLogger(__name__)

MAX_LINKS = 50
# Which metric judges a chain when the caller names none: validation first, then any loss.
_PREFERRED = (("val", "loss"), ("eval", "loss"), ("valid", "loss"), ("test", "loss"), ("loss",))


class LinkGain(BaseModel):
    job_id: str
    status: str
    change: str | None = Field(default=None, description="The config change that made this job.")
    value: Value | None = Field(default=None, description="The metric's last value.")
    delta: float | None = Field(default=None, description="value minus the previous job's value.")
    improved: bool | None = Field(default=None, description="Better than the previous job.")
    wall_s: float | None = None
    cost_usd: float | None = Field(default=None, description="0 for local jobs; None: unknown.")


class ChainGains(BaseModel):
    job_ids: list[str] = Field(description="root → ... → newest.")
    metric: str | None = Field(default=None, description="The metric judged (None: none found).")
    goal: str | None = None
    links: list[LinkGain]
    first_value: Value | None = None
    final_value: Value | None = None
    better_than_first: bool | None = Field(
        default=None, description="The newest job ended better than the first (None: unknown)."
    )
    total_wall_s: float = 0.0
    total_cost_usd: float | None = Field(default=None, description="None when a price is unknown.")

    def line(self) -> str:
        """One sentence: what the chain gained, for reports and journals."""
        first, final = _figure(self.first_value), _figure(self.final_value)
        cost = "cost unknown" if self.total_cost_usd is None else f"${self.total_cost_usd:.4f}"
        verdict = {True: "better than its first run", False: "not better than its first run"}
        outcome = verdict.get(self.better_than_first, "no comparable metric")  # type: ignore[arg-type]
        metric = f"{self.metric} {first} → {final}" if self.metric else "no metric"
        return (
            f"chain {' → '.join(self.job_ids)}: {metric} over {len(self.job_ids) - 1} "
            f"restart(s), {self.total_wall_s:.0f}s, {cost}; {outcome}"
        )

    def render(self) -> str:
        lines = [self.line()]
        for link in self.links:
            delta = f" ({link.delta:+.4g})" if link.delta is not None else ""
            cost = "?" if link.cost_usd is None else f"${link.cost_usd:.4f}"
            wall = "?" if link.wall_s is None else f"{link.wall_s:.0f}s"
            change = f" after {link.change}" if link.change else ""
            lines.append(
                f"  {link.job_id} {link.status}{change}: {_figure(link.value)}{delta}, "
                f"{wall}, {cost}"
            )
        return "\n".join(lines)


def chain_gains(
    settings: Settings, store: StateStore, job_id: str, metric: str | None = None
) -> ChainGains:
    """The gains of the restart chain through ``job_id`` (its whole chain, root to newest)."""
    from toolkits.jobs.chains import chain_of

    job_ids = chain_of(store, job_id).job_ids[-MAX_LINKS:]
    from toolkits.experiments.compare import run_config

    located = [locate(one, settings, store) for one in job_ids]
    snapshots = [read(one) for one in located]
    metric = metric or pick_metric([set(snap.series) for snap in snapshots])
    goal = infer_goal(metric) if metric else None
    links: list[LinkGain] = []
    values: list[float | None] = []
    previous_config: dict[str, Any] | None = None
    for where, snap in zip(located, snapshots, strict=True):
        record = snap.job.record if snap.job is not None else None
        config, _origin = run_config(where)
        series = snap.series.get(metric) if metric else None
        value = float(series.values[-1]) if series is not None and len(series) else None
        before = values[-1] if values else None
        links.append(
            LinkGain(
                job_id=snap.source,
                status=getattr(record, "status", "unknown"),
                change=_change(previous_config, config) if links else None,
                value=None if value is None else encode(value),
                delta=_delta(before, value),
                improved=better(value, before, goal) if links else None,
                wall_s=_wall(record),
                cost_usd=_cost(record),
            )
        )
        values.append(value)
        previous_config = config
    costs = [link.cost_usd for link in links]
    return ChainGains(
        job_ids=job_ids,
        metric=metric,
        goal=goal,
        links=links,
        first_value=links[0].value,
        final_value=links[-1].value,
        better_than_first=better(values[-1], values[0], goal) if len(links) > 1 else None,
        total_wall_s=round(sum(link.wall_s or 0.0 for link in links), 1),
        total_cost_usd=None if None in costs else round(sum(c or 0.0 for c in costs), 6),
    )


def gains_so_far(settings: Settings, store: StateStore, job_id: str) -> ChainGains | None:
    """The chain's gains for a journal entry; None when they cannot be read (a restart or a
    report must not fail because an old run's metrics are unreadable)."""
    try:
        return chain_gains(settings, store, job_id)
    except Exception:
        log.warning("gains of the chain of %s not read", job_id, exc_info=True)
        return None


def gain_numbers(gains: ChainGains) -> dict[str, float | str | None]:
    """The journal's figures: the last job's metric, and the chain's wall time and cost."""
    last = gains.links[-1]
    numbers: dict[str, float | str | None] = {}
    if gains.metric:
        numbers[f"{gains.metric} ({last.job_id})"] = last.value
    numbers["wall_s (chain)"] = gains.total_wall_s
    numbers["cost_usd (chain)"] = gains.total_cost_usd
    return numbers


def pick_metric(tag_sets: list[set[str]]) -> str | None:
    """The metric most runs share, a validation loss first."""
    counts: dict[str, int] = {}
    for tags in tag_sets:
        for tag in tags:
            counts[tag] = counts.get(tag, 0) + 1
    ranked = sorted(counts, key=lambda tag: (-counts[tag], tag))
    # A metric every run has first (a run restarted before its first evaluation has only a
    # training loss: comparing on val/loss would leave the chain "not comparable").
    shared = [t for t in ranked if counts[t] == counts[ranked[0]]] if ranked else []
    for candidates in (shared, ranked):
        for words in _PREFERRED:
            found = next((t for t in candidates if all(w in t.lower() for w in words)), None)
            if found:
                return found
    return next((t for t in ranked if infer_goal(t)), None)


def better(value: float | None, than: float | None, goal: str | None) -> bool | None:
    """Whether ``value`` beats ``than`` for ``goal``; a finite value beats NaN/Inf."""
    if value is None or than is None or goal is None:
        return None
    if not math.isfinite(than):
        return math.isfinite(value)
    if not math.isfinite(value):
        return False
    return value < than if goal == "minimize" else value > than


def _delta(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)):
        return None
    return round(after - before, 6)


def _wall(record: Any) -> float | None:
    started = getattr(record, "started_at", None)
    if started is None:
        return None
    return round((getattr(record, "ended_at", None) or time.time()) - started, 1)


def _cost(record: Any) -> float | None:
    wall = _wall(record)
    backend = getattr(record, "backend", None)
    if backend == "local":
        return 0.0
    if backend != "hf" or wall is None:
        return None
    from toolkits.jobs.hardware import HF_FALLBACK_FLAVORS

    flavor = getattr(record, "hardware", None) or record.spec.flavor
    price = next((f.usd_per_hour for f in HF_FALLBACK_FLAVORS if f.name == flavor), None)
    return None if price is None else round(wall / 3600 * price, 6)


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str | None:
    if before is None or after is None:
        return None
    keys = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    keys = [k for k in keys if not k.startswith("job.")] or keys
    return ", ".join(f"{k} {before.get(k)} -> {after.get(k)}" for k in keys[:5]) or "no change"


def _figure(value: Value | None) -> str:
    if value is None:
        return "?"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
