"""A job source's stalled / stuck state for experiments_check, judged by the jobs toolkit's rule."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.settings import Settings
    from toolkits.experiments.sources import Snapshot


def job_progress_states(
    snapshot: Snapshot, settings: Settings, now: float
) -> dict[str, tuple[str, dict[str, Any]]]:
    job = snapshot.job
    if job is None or not job.running:
        return {}
    from toolkits.jobs.logs import LOG_FILE
    from toolkits.jobs.stalls import assess, usual_interval

    log = Path(job.job_dir) / LOG_FILE if job.job_dir else None
    last_log_at = log.stat().st_mtime if log is not None and log.is_file() else None
    state, note, numbers = assess(
        settings,
        status=job.status,
        now=now,
        created_at=getattr(job.record, "created_at", None),
        started_at=job.started_at,
        last_log_at=last_log_at,
        last_metric_at=snapshot.last_wall_time,
        usual_s=usual_interval(s.wall_times for s in snapshot.series.values()),
        process_alive=None,
    )
    return {} if state == "ok" or note is None else {state: (note, numbers)}
