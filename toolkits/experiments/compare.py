"""Runs side by side: final and best values per tag, and how their configs differ."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from server.errors import NotFoundError, UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.experiments.config_edit import flatten, load_config
from toolkits.experiments.gains import ChainGains, chain_gains
from toolkits.experiments.sources import Located, Snapshot, locate, read, trackio_store
from toolkits.experiments.sources.jobs import config_path
from toolkits.experiments.summary import TagSummary, Value, summarize
from toolkits.experiments.tag_select import select_tags

MAX_TAGS = 20
MAX_CHAIN_RUNS = 8  # what experiments_compare takes at once; the gains cover the whole chain
MAX_DIFFERENCES = 100
CONFIG_NAMES = ("config.yaml", "config.yml", "config.json", "hparams.yaml", "hparams.json")
# Spec fields that differ between any two jobs and say nothing about the experiment.
_SPEC_NOISE = {"config_file", "env", "secrets", "labels", "name"}

Plain = str | float | int | bool | None


class RunCell(BaseModel):
    last: Value | None = None
    last_step: int | None = None
    best: Value | None = None
    best_step: int | None = None
    points: int = 0
    non_finite: int = 0


class TagRow(BaseModel):
    tag: str
    goal: str | None
    runs: list[RunCell | None] = Field(description="One cell per source, None when absent.")
    best_run: int | None = Field(
        default=None, description="Index of the source with the best value."
    )


class ConfigDifference(BaseModel):
    key: str
    values: list[Plain] = Field(description="One value per source (None = not set).")


class RunHeader(BaseModel):
    source: str
    kind: str
    job_id: str | None = None
    job_status: str | None = None
    run: str | None = None
    config_from: str | None = Field(default=None, description="Where its config was read.")


class Comparison(BaseModel):
    runs: list[RunHeader]
    tags: list[TagRow]
    config_differences: list[ConfigDifference]
    same_config_keys: int = Field(description="Config keys equal in every run.")
    truncated: bool = False
    hint: str | None = None
    problems: list[str] = Field(default_factory=list)
    chain: ChainGains | None = Field(
        default=None,
        description="When the runs are one restart chain: what each restart gained, wall time "
        "and cost spent, and whether the chain ended better than its first run.",
    )


def compare(
    settings: Settings, store: StateStore, sources: list[str], tags: list[str] | None
) -> Comparison:
    """Side-by-side final/best values of the same tags over several runs, or over one restarted
    job's chain (with what each restart gained).

    Raises UserError for one source that is not a restarted job, and as ``core.snapshot`` does
    per source.
    """
    sources, gains = _chain_sources(settings, store, sources)
    located = [locate(source, settings, store) for source in sources]
    snapshots = [read(one) for one in located]
    available = sorted(
        {tag for snap in snapshots for tag in snap.series},
        key=lambda t: (-sum(t in s.series for s in snapshots), t),
    )
    chosen, problems = select_tags(available, tags)
    truncated = len(chosen) > MAX_TAGS
    rows = [_row(tag, snapshots) for tag in chosen[:MAX_TAGS]]
    configs = [run_config(one) for one in located]
    differences, same = _differences([config for config, _origin in configs])
    hint = None
    if truncated or len(differences) > MAX_DIFFERENCES:
        truncated = True
        hint = (
            f"{len(chosen)} tags and {len(differences)} config differences; the first "
            f"{MAX_TAGS} and {MAX_DIFFERENCES} are shown. Pass tags=[...] to choose."
        )
    return Comparison(
        runs=[
            _header(snap, origin)
            for snap, (_config_data, origin) in zip(snapshots, configs, strict=True)
        ],
        tags=rows,
        config_differences=differences[:MAX_DIFFERENCES],
        same_config_keys=same,
        truncated=truncated,
        hint=hint,
        problems=problems + [p for snap in snapshots for p in snap.problems[:3]],
        chain=gains,
    )


def _chain_sources(
    settings: Settings, store: StateStore, sources: list[str]
) -> tuple[list[str], ChainGains | None]:
    """One job id stands for its restart chain; jobs of one chain get the chain's gains."""
    chains = [_chain(store, source.strip()) for source in sources]
    first = chains[0]
    if len(sources) == 1 and first is not None and len(first) > 1:
        return first[-MAX_CHAIN_RUNS:], chain_gains(settings, store, first[-1])
    if len(sources) < 2:
        raise UserError(
            "Give at least two sources to compare (job ids, log dirs, files), or one job id "
            "that was restarted (its whole restart chain is compared)."
        )
    if first is not None and all(chain == first for chain in chains):
        return sources, chain_gains(settings, store, first[-1])
    return sources, None


def _chain(store: StateStore, source: str) -> list[str] | None:
    """The restart chain of a job id (root → newest), None when ``source`` is no job."""
    from toolkits.jobs.chains import chain_of

    try:
        return chain_of(store, source).job_ids
    except (NotFoundError, sqlite3.OperationalError):  # not a job, or no jobs table yet
        return None


def _header(snapshot: Snapshot, origin: str | None) -> RunHeader:
    job = snapshot.job
    return RunHeader(
        source=snapshot.source,
        kind=snapshot.kind,
        run=snapshot.run,
        job_id=job.job_id if job else None,
        job_status=job.status if job else None,
        config_from=origin,
    )


def _row(tag: str, snapshots: list[Snapshot]) -> TagRow:
    summaries: list[TagSummary | None] = [
        summarize(snap.series[tag], max_points=0) if tag in snap.series else None
        for snap in snapshots
    ]
    goal = next((s.goal for s in summaries if s and s.goal), None)
    cells = [_cell(s) for s in summaries]
    best_run = None
    scored = [(i, c.best) for i, c in enumerate(cells) if c and isinstance(c.best, float)]
    if goal and scored:
        pick = min if goal == "minimize" else max
        best_run = pick(scored, key=lambda item: item[1])[0]
    return TagRow(tag=tag, goal=goal, runs=cells, best_run=best_run)


def _cell(summary: TagSummary | None) -> RunCell | None:
    if summary is None:
        return None
    best = summary.best
    return RunCell(
        last=summary.last,
        last_step=summary.last_step,
        best=best.value if best else None,
        best_step=best.step if best else None,
        points=summary.points,
        non_finite=summary.nan_count + summary.inf_count,
    )


def run_config(located: Located) -> tuple[dict[str, Any] | None, str | None]:
    """The run's configuration, flattened to dotted keys, and where it came from."""
    if located.job is not None:
        flat: dict[str, Any] = {}
        spec = getattr(located.job.record, "spec", None)
        if spec is not None:
            dumped = spec.model_dump(mode="json", exclude=_SPEC_NOISE)
            flat.update({f"job.{k}": v for k, v in flatten(dumped).items()})
        path = config_path(located.job)
        if path is not None and path.is_file():
            flat.update(flatten(load_config(path)))
        return flat, str(path) if path else f"job {located.job.job_id}"
    if located.trackio_db is not None and located.trackio_run is not None:
        data = trackio_store.config(located.trackio_db, located.trackio_run[0])
        return (flatten(data), f"trackio run {located.trackio_run[1]}") if data else (None, None)
    if located.tracker is not None:
        data = located.tracker.config()
        where = f"{located.tracker.kind} run {located.tracker.name}"
        return (flatten(data), where) if data else (None, None)
    if located.path is not None:
        folder = located.path if located.path.is_dir() else located.path.parent
        for name in CONFIG_NAMES:
            candidate = Path(folder) / name
            if candidate.is_file():
                return flatten(load_config(candidate)), str(candidate)
    return None, None


def _differences(configs: list[dict[str, Any] | None]) -> tuple[list[ConfigDifference], int]:
    known = [c for c in configs if c is not None]
    if len(known) < 2:
        return [], 0
    keys = sorted({key for config in known for key in config})
    differences, same = [], 0
    for key in keys:
        values = [_plain(c.get(key)) if c is not None else None for c in configs]
        if (
            len(
                {
                    json.dumps(v, sort_keys=True)
                    for v, c in zip(values, configs, strict=True)
                    if c is not None
                }
            )
            == 1
        ):
            same += 1
        else:
            differences.append(ConfigDifference(key=key, values=values))
    return differences, same


def _plain(value: Any) -> Plain:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return json.dumps(value, sort_keys=True, default=str)[:200]
