"""What the jobs toolkit tells the webhooks (server/notify.py): a job's end and its stalls.

A local job runs detached, so no one process sees it end: the server's status refreshes, its
supervisor thread and watch all reconcile the state file. Whichever looks first after the end
announces it; the notify table's ``once`` claim keeps the others (and later looks) silent.
Ends older than ``END_WINDOW_S`` are not announced: turning notifications on must not replay
a history of finished jobs.
"""

from __future__ import annotations

import time
from pathlib import Path

from server import notify
from server.settings import Settings
from toolkits.jobs import logs as joblogs
from toolkits.jobs.credentials import redact_job_text
from toolkits.jobs.models import TERMINAL_STATUSES, Health, JobRecord
from toolkits.jobs.store import JobStore

END_WINDOW_S = 3600.0


def announce_ends(settings: Settings, jobs: JobStore) -> None:
    """Announce every job that ended recently and was not announced yet (cheap when off)."""
    if not notify.enabled(settings, "job_end"):
        return
    statuses = sorted(TERMINAL_STATUSES)
    with jobs.reading() as conn:
        rows = conn.execute(
            f"SELECT job_id FROM jobs WHERE status IN ({', '.join('?' * len(statuses))}) "
            "AND ended_at >= ?",
            (*statuses, time.time() - END_WINDOW_S),
        ).fetchall()
    ended = [row["job_id"] for row in rows]
    for job_id in sorted(set(ended) - notify.already_sent(jobs.state, "job_end", ended)):
        with jobs.reading() as conn:
            job = jobs.get(conn, job_id)
        notify.notify(
            settings,
            jobs.state,
            "job_end",
            job_id,
            _end_summary(job),
            _fields(settings, job),
            once=True,
        )


def announce_progress(settings: Settings, jobs: JobStore, job: JobRecord, health: Health) -> None:
    """A stalled or stuck job (rate-limited per job by notify_min_interval_s)."""
    if health.progress == "ok" or not notify.enabled(settings, health.progress):
        return
    fields = _fields(settings, job)
    fields["why"] = health.progress_note
    fields["last_log_line"] = health.last_log_line  # redacted by the jobs service already
    summary = f"job {job.job_id}{_name(job)} is {health.progress}"
    notify.notify(settings, jobs.state, health.progress, job.job_id, summary, fields)


def _name(job: JobRecord) -> str:
    return f" ({job.spec.name})" if job.spec.name else ""


def _end_summary(job: JobRecord) -> str:
    code = f" (exit code {job.exit_code})" if job.exit_code is not None else ""
    return f"job {job.job_id}{_name(job)} {job.status}{code}"


def _fields(settings: Settings, job: JobRecord) -> dict[str, object]:
    wall = None
    if job.started_at is not None:
        wall = round((job.ended_at or time.time()) - job.started_at, 1)
    fields: dict[str, object] = {
        "job_id": job.job_id,
        "name": job.spec.name,
        "status": job.status,
        "exit_code": job.exit_code,
        "message": job.message,
        "backend": job.backend,
        "hardware": job.hardware,
        "wall_s": wall,
        "url": job.url,
    }
    if job.status in ("failed", "lost"):
        log_path = Path(job.job_dir) / joblogs.LOG_FILE
        if log_path.is_file():
            names = list(job.spec.secrets)
            fields["last_log_line"] = joblogs.last_line(
                log_path, lambda text: redact_job_text(text, names, settings)
            )
    return fields
