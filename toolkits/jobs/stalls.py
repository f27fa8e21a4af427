"""Stalled and stuck jobs, judged the same way by jobs_status, experiments_check and watch.

- stuck: queued (waiting in a queue or for the backend to schedule it) for longer than
  ``settings.job_stuck_after_s``;
- stalled: running, its process not known to be gone, and no new log line and no new metric
  step for ``settings.stall_factor`` times its own usual interval between metric points, and
  at least ``settings.stall_floor_s`` (a job with no metrics yet gets the floor alone).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from server.settings import Settings

Progress = Literal["ok", "stalled", "stuck"]
# Recent gaps that make up "usual": enough to smooth out one slow evaluation.
RECENT_GAPS = 50


def usual_interval(wall_times: Iterable[Any]) -> float | None:
    """Median gap between distinct recent metric times, from every series of a run."""
    import numpy as np

    arrays = [np.asarray(w, dtype=float) for w in wall_times]
    arrays = [a[np.isfinite(a)] for a in arrays if len(a)]
    if not arrays:
        return None
    times = np.unique(np.concatenate(arrays))[-(RECENT_GAPS + 1) :]
    gaps = np.diff(times)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else None


def assess(
    settings: Settings,
    *,
    status: str,
    now: float,
    created_at: float | None,
    started_at: float | None,
    last_log_at: float | None,
    last_metric_at: float | None,
    usual_s: float | None,
    process_alive: bool | None,
) -> tuple[Progress, str | None, dict[str, Any]]:
    """(state, the sentence that says why, the numbers behind it)."""
    if status == "queued" and created_at is not None:
        waited = now - created_at
        if waited > settings.job_stuck_after_s:
            return (
                "stuck",
                f"queued for {waited / 60:.1f} min (bound {settings.job_stuck_after_s / 60:g} "
                "min): the backend has not started it; check its queue or cancel and resubmit "
                "on other hardware",
                {"waited_s": round(waited, 1), "bound_s": settings.job_stuck_after_s},
            )
        return "ok", None, {}
    if status != "running" or process_alive is False:
        return "ok", None, {}
    moments = [t for t in (last_log_at, last_metric_at, started_at) if t]
    if not moments:
        return "ok", None, {}
    idle = now - max(moments)
    bound = max(settings.stall_floor_s, settings.stall_factor * (usual_s or 0.0))
    if idle <= bound:
        return "ok", None, {}
    usual = (
        f"{settings.stall_factor:g}x its usual {usual_s:.3g}s between metrics, " if usual_s else ""
    )
    return (
        "stalled",
        f"alive but silent: no new log line or metric step for {idle:.0f}s (bound: "
        f"{usual}floor {settings.stall_floor_s:g}s); look at jobs_logs for a hang (data "
        "loader, deadlock, NCCL) and cancel or restart it",
        {
            "idle_s": round(idle, 1),
            "bound_s": round(bound, 1),
            "usual_interval_s": None if usual_s is None else round(usual_s, 3),
        },
    )


def metric_cadence(log_dir: str | None) -> float | None:
    """The usual interval of a job's metrics, read with the experiments reader (incremental)."""
    if not log_dir:
        return None
    from pathlib import Path

    try:
        from toolkits.experiments.sources import Located, read
    except ImportError:  # the experiments toolkit is optional: the floor alone then
        return None
    path = Path(log_dir)
    if not path.is_dir():
        return None
    try:
        snapshot = read(Located(log_dir, path=path))
    except Exception:  # an unreadable log must not break jobs_status; the floor still applies
        return None
    return usual_interval(series.wall_times for series in snapshot.series.values())


def with_progress(settings: Settings, job: Any, health: Any) -> Any:
    """``health`` with its progress state filled in (jobs_status, watch)."""
    import time

    usual = metric_cadence(job.log_dir) if job.status == "running" else None
    state, note, _numbers = assess(
        settings,
        status=job.status,
        now=time.time(),
        created_at=job.created_at,
        started_at=job.started_at,
        last_log_at=health.last_log_at,
        last_metric_at=health.last_metric_at,
        usual_s=usual,
        process_alive=health.process_alive,
    )
    return health.model_copy(update={"progress": state, "progress_note": note})
