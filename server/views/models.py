"""View-models: one JSON object per view, composed from what the tools themselves return.

Every builder takes ``call(tool, arguments) -> structured result`` and asks the real tools
(experiments_metrics, jobs_status, ml_task, ...), so the MCP Apps views and the
dashboard show exactly the data a model reads, with no second source of truth. The series come
already downsampled by experiments_metrics (spikes and extremes kept), so a 1M-point run
reaches the browser as a few hundred points per tag.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from server.errors import UserError
from server.state import StateStore

ToolCall = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

CHART_POINTS = 600  # per tag: enough for a sharp line at dashboard width, cheap to draw
MAX_CHAIN = 10  # restarts followed back through parent_job_id
LOG_TAIL = 20


async def experiment_model(
    call: ToolCall,
    source: str,
    tags: list[str] | None = None,
    preferences: str | None = None,
    store: StateStore | None = None,
) -> dict[str, Any]:
    """Curves of a run, or of a job and the jobs it was restarted from, with the decisions."""
    chain = await _restart_chain(call, source) if _is_job_id(source) else [source]
    segments = []
    for job_or_source in chain:
        report = await call(
            "experiments_metrics",
            {"source": job_or_source, "tags": tags, "max_points": CHART_POINTS},
        )
        segments.append(report)
    last = segments[-1]
    check = None
    if preferences:
        check = await call("experiments_check", {"source": source, "preferences": preferences})
    journal = await _journal_for(call, store, chain) if store and _is_job_id(source) else []
    return {
        "view": "experiment",
        "source": source,
        "chain": chain,
        "tags_available": last.get("tags_available", []),
        "series": _series_by_tag(chain, segments),
        "restarts": _restarts(chain, segments, journal),
        "thresholds": _thresholds(preferences) if check else [],
        "verdict": _verdict(check),
        "journal": journal,
        "problems": [p for report in segments for p in report.get("problems", [])],
    }


async def job_model(call: ToolCall, job_id: str) -> dict[str, Any]:
    """Status, health, the last log lines and a sparkline of the job's first metric."""
    from toolkits.jobs.models import ACTIVE_STATUSES

    status = await call("jobs_status", {"job_id": job_id})
    logs = await call("jobs_logs", {"job_id": job_id, "tail": LOG_TAIL})
    sparkline: dict[str, Any] | None = None
    try:
        metrics = await call("experiments_metrics", {"source": job_id, "max_points": 60})
    except UserError:  # no metrics yet, or the experiments toolkit is not served
        metrics = {"tags": []}
    for tag in metrics.get("tags", []):
        if tag.get("series"):
            sparkline = {"tag": tag["tag"], "points": _finite_points(tag["series"])}
            break
    return {
        "view": "job",
        "job": status,
        "log_lines": logs.get("text", "").splitlines()[-LOG_TAIL:],
        "sparkline": sparkline,
        "can_cancel": status.get("status") in ACTIVE_STATUSES,
        "live": status.get("status") in ACTIVE_STATUSES,
    }


async def approval_model(call: ToolCall, run_id: str) -> dict[str, Any]:
    """What a delegated run wants to do and waits for a person to allow, plus its timeline."""
    from toolkits.tasks.statuses import LIVE_STATUSES

    status = await call("ml_task", {"run_id": run_id, "since": 0, "limit": 50})
    return {
        "view": "approval",
        "run_id": run_id,
        "status": status.get("status"),
        "task": status.get("task"),
        "pending": status.get("pending", []),
        "declined": status.get("declined", []),
        "events": status.get("events", []),
        "summary": status.get("summary"),
        # Waiting on a person: no refresh under their hands until they answer.
        "live": status.get("status") in LIVE_STATUSES and not status.get("pending"),
    }


def _is_job_id(source: str) -> bool:
    return source.startswith("j-") and "/" not in source


async def _restart_chain(call: ToolCall, job_id: str) -> list[str]:
    """Oldest first: follow parent_job_id back, bounded, refusing cycles."""
    chain = [job_id]
    current = job_id
    while len(chain) < MAX_CHAIN:
        parent = (await call("jobs_status", {"job_id": current})).get("parent_job_id")
        if not parent or parent in chain:
            break
        chain.append(parent)
        current = parent
    return list(reversed(chain))


async def _journal_for(call: ToolCall, store: StateStore, chain: list[str]) -> list[dict[str, Any]]:
    from toolkits.experiments.journal import experiment_of_job

    experiment = next((e for job in chain if (e := experiment_of_job(store, job))), None)
    if experiment is None:
        return []
    page = await call("experiments_journal", {"experiment": experiment, "limit": 50})
    return [e for e in page.get("entries", []) if set(e.get("job_ids", [])) & set(chain)]


def _finite_points(series: list[list[Any]]) -> list[list[float]]:
    return [[s, v] for s, v in series if isinstance(v, int | float) and math.isfinite(v)]


def _series_by_tag(chain: list[str], segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per tag; each restart's points are their own segment (steps may restart)."""
    by_tag: dict[str, dict[str, Any]] = {}
    for job, report in zip(chain, segments, strict=True):
        for tag in report.get("tags", []):
            entry = by_tag.setdefault(tag["tag"], {"tag": tag["tag"], "goal": tag.get("goal")})
            points, bad = [], []
            for step, value in tag.get("series", []):
                if isinstance(value, int | float) and math.isfinite(value):
                    points.append([step, value])
                else:  # NaN/Inf arrive as strings or non-finite floats: mark, never plot
                    bad.append({"step": step, "value": str(value)})
            if tag.get("first_non_finite_step") is not None and not bad:
                bad.append({"step": tag["first_non_finite_step"], "value": "NaN/Inf"})
            if len(bad) > 1:  # one mark where the run broke, saying how many followed
                bad = [{**bad[0], "value": f"{bad[0]['value']} (+{len(bad) - 1} more)"}]
            entry.setdefault("segments", []).append(
                {"source": job, "points": points, "non_finite": bad, "last": tag.get("last")}
            )
    return list(by_tag.values())


def _restarts(
    chain: list[str], segments: list[dict[str, Any]], journal: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    marks = []
    for job, report in list(zip(chain, segments, strict=True))[1:]:
        firsts = [
            t["first_step"] for t in report.get("tags", []) if t.get("first_step") is not None
        ]
        entry = next((e for e in reversed(journal) if job in e.get("job_ids", [])), None)
        marks.append(
            {
                "job_id": job,
                "step": min(firsts) if firsts else None,
                "journal": entry,
                "change": (entry or {}).get("decision"),
            }
        )
    return marks


def _thresholds(preferences: str | None) -> list[dict[str, Any]]:
    """From the same preferences experiments_check just judged the run with."""
    from toolkits.experiments.preferences import load_preferences

    if not preferences:
        return []
    metrics = load_preferences(preferences).metrics.values()
    return [
        {"metric": pref.name, "value": pref.threshold, "goal": pref.goal}
        for pref in metrics
        if pref.threshold is not None
    ]


def _verdict(check: dict[str, Any] | None) -> dict[str, Any] | None:
    if not check:
        return None
    return {
        "status": check.get("status"),
        "passed": check.get("passed"),
        "summary": check.get("summary"),
        "verdicts": check.get("verdicts", []),
        "actions": check.get("actions", []),
    }


async def overview_model(call: ToolCall, store: StateStore) -> dict[str, Any]:
    """The dashboard's front page: jobs, delegated runs (pending approvals first), journals."""
    from toolkits.experiments.journal import known_experiments

    try:
        jobs = await call("jobs_list", {"limit": 100})
    except UserError:
        jobs = {"jobs": [], "total": 0}
    return {
        "view": "overview",
        "jobs": jobs.get("jobs", []),
        "jobs_total": jobs.get("total", 0),
        "runs": _runs(store),
        "experiments": _quiet(known_experiments, store),
    }


def _runs(store: StateStore, limit: int = 50) -> list[dict[str, Any]]:
    import json
    import sqlite3

    try:
        with store.reading() as db:
            rows = db.execute(
                "SELECT run_id, status, task, pending, updated_at FROM agent_runs "
                "ORDER BY (status = 'awaiting_approval') DESC, updated_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
    except sqlite3.OperationalError:  # no delegated run was ever started here
        return []
    return [
        {
            "run_id": run_id,
            "status": status,
            "task": task[:200],
            "pending": len(json.loads(pending or "[]")),
            "updated_at": updated,
        }
        for run_id, status, task, pending, updated in rows
    ]


def _quiet(fn: Callable[[StateStore], list[str]], store: StateStore) -> list[str]:
    import sqlite3

    try:
        return fn(store)
    except sqlite3.OperationalError:  # the experiments toolkit never wrote its tables here
        return []
