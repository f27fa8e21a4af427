"""The jobs service: submit, observe, read logs of and cancel jobs on any backend.

Plain, synchronous, typed functions over the state store; no MCP here. Other toolkits (the
experiments toolkit restarts jobs) use ``JobService(settings, store)`` directly.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from server.errors import UserError
from server.private import private_dir
from server.settings import Settings
from server.state import StateStore
from toolkits.jobs import logs as joblogs
from toolkits.jobs.announce import announce_ends, announce_progress
from toolkits.jobs.backends import BACKENDS
from toolkits.jobs.backends.base import Backend, load_backend
from toolkits.jobs.credentials import redact_job_text, resolve_secrets
from toolkits.jobs.health import latest_metric
from toolkits.jobs.inputs import resolve_inputs
from toolkits.jobs.models import (
    LABEL_PATTERN,
    TERMINAL_STATUSES,
    HardwareReport,
    Health,
    JobRecord,
    JobSpec,
    JobUpdate,
    LogsPage,
    Resources,
)
from toolkits.jobs.stalls import with_progress
from toolkits.jobs.store import JobStore

__all__ = ["JobRecord", "JobService", "JobSpec", "Resources"]

log = logging.getLogger(__name__)


def build_spec(**fields: object) -> JobSpec:
    """A JobSpec from loose arguments; invalid values become one readable UserError."""
    try:
        return JobSpec.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'spec'}: {err['msg']}"
            for err in exc.errors()
        )
        raise UserError(f"Invalid job: {problems}.") from None


class JobService:
    def __init__(self, settings: Settings, store: StateStore):
        self.settings = settings
        self.jobs = JobStore(store)
        self._backends: dict[str, Backend] = {}

    def backend(self, name: str) -> Backend:
        """The jobs backend called ``name``. Raises UserError for an unknown or unconfigured one."""
        if name not in self._backends:
            self._backends[name] = load_backend(name, self.settings, self.jobs)
        return self._backends[name]

    # --- submit ---------------------------------------------------------------------------
    def submit(self, spec: JobSpec, parent_job_id: str | None = None) -> JobRecord:
        """Record and start (or queue) a job; returns at once with its job_id."""
        inputs = resolve_inputs(self.settings, spec)
        backend = self.backend(spec.backend)
        resolve_secrets(spec.secrets, self.settings)  # a typo fails now, not in the queue
        if parent_job_id is not None:
            self.get(parent_job_id)
        job_id = f"j-{secrets.token_hex(5)}"
        job_dir = self.settings.home / "jobs" / job_id
        private_dir(job_dir.parent)
        job_dir.mkdir(mode=0o700)
        os.chmod(job_dir, 0o700)  # mkdir's mode is masked by the umask
        job = JobRecord(
            job_id=job_id,
            backend=spec.backend,
            status="queued",
            spec=spec,
            created_at=time.time(),
            job_dir=str(job_dir),
            log_dir=str(job_dir / "metrics") if spec.backend == "local" else None,
            parent_job_id=parent_job_id,
            working_dir=str(inputs.working_dir) if inputs.working_dir else None,
            message="queued",
        )
        recorded = False
        try:
            job = _apply(job, backend.prepare(job, inputs))
            with self.jobs.transaction() as conn:
                self.jobs.insert(conn, job)
            recorded = True
            update = backend.start(job, inputs)
            with self.jobs.transaction() as conn:
                return self.jobs.update(conn, job_id, update)
        except UserError:
            # Nothing started: leave no trace of a job that never existed.
            if recorded:
                with self.jobs.transaction() as conn:
                    self.jobs.delete(conn, job_id)
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        except Exception:
            if recorded:
                with self.jobs.transaction() as conn:
                    failed = JobUpdate(
                        status="failed", ended_at=time.time(), message="internal error at start"
                    )
                    self.jobs.update(conn, job_id, failed)
            raise

    # --- observe --------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        """The job as last recorded (raises NotFoundError naming jobs_list)."""
        with self.jobs.reading() as conn:
            return self.jobs.get(conn, job_id)

    def refresh(self, job_id: str) -> JobRecord:
        """The job with its status reconciled from its backend."""
        job = self.get(job_id)
        if not job.is_terminal:
            changed, _ = self._refresh_batch(job.backend, [job], tolerate_errors=False)
            job = changed.get(job_id) or job
        announce_ends(self.settings, self.jobs)
        return job

    def _refresh_batch(
        self, backend_name: str, jobs: list[JobRecord], tolerate_errors: bool
    ) -> tuple[dict[str, JobRecord], str | None]:
        """Ask the backend about ``jobs``; the records that may have changed, and a note when
        the backend could not be asked (only when ``tolerate_errors``)."""
        try:
            updates = self.backend(backend_name).refresh(jobs)
        except UserError as exc:
            if not tolerate_errors:
                raise
            return {}, f"{backend_name}: status not refreshed ({exc})"
        if not updates:
            return {}, None
        with self.jobs.transaction() as conn:
            return {
                job_id: self.jobs.update(conn, job_id, u) for job_id, u in updates.items()
            }, None

    def list_page(
        self,
        *,
        status: str | None = None,
        backend: str | None = None,
        label: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[JobRecord], int, list[str]]:
        """One page of jobs (newest first), the total matching, and notes on stale statuses."""
        if backend is not None and backend not in BACKENDS:
            raise UserError(f"Unknown backend {backend!r}: use one of {', '.join(BACKENDS)}.")
        notes = self.refresh_active(backend)
        labels = _parse_label(label)
        with self.jobs.reading() as conn:
            jobs, total = self.jobs.select(
                conn,
                statuses=[status] if status else [],
                backend=backend,
                labels=labels,
                limit=limit,
                offset=offset,
            )
        return jobs, total, notes

    def list(self, **filters: object) -> list[JobRecord]:
        """Recent jobs, newest first, filtered by status and backend."""
        jobs, _, _ = self.list_page(**filters)  # type: ignore[arg-type]
        return jobs

    def refresh_active(self, backend: str | None = None) -> list[str]:
        """Reconcile every queued/running job (one call per backend); returns problems seen."""
        notes = []
        with self.jobs.reading() as conn:
            names = [backend] if backend else list(BACKENDS)
            active = {name: self.jobs.active(conn, name) for name in names}
        for name, jobs in active.items():
            if jobs:
                _, note = self._refresh_batch(name, jobs, tolerate_errors=True)
                notes += [note] if note else []
        announce_ends(self.settings, self.jobs)
        return notes

    def health(self, job: JobRecord) -> Health:
        """Liveness, progress and stall state of ``job`` from its log and process."""
        log_path = Path(job.job_dir) / joblogs.LOG_FILE
        has_log = log_path.exists() and log_path.stat().st_size > 0
        last_log_at = log_path.stat().st_mtime if has_log else None
        mark = latest_metric(Path(job.log_dir)) if job.log_dir else None
        idle = None
        if job.status == "running":
            moments = [t for t in (last_log_at, mark.at if mark else None, job.started_at) if t]
            idle = round(time.time() - max(moments), 1) if moments else None
        health = Health(
            process_alive=self.backend(job.backend).process_alive(job),
            last_log_at=last_log_at,
            last_log_line=joblogs.last_line(log_path, self._redactor(job)) if has_log else None,
            last_metric_step=mark.step if mark else None,
            last_metric_at=mark.at if mark else None,
            metric_source=mark.source if mark else None,
            metrics_dir=job.log_dir,
            idle_s=idle,
        )
        health = with_progress(self.settings, job, health)
        announce_progress(self.settings, self.jobs, job, health)
        return health

    # --- logs -----------------------------------------------------------------------------
    def logs(
        self,
        job_id: str,
        *,
        tail: int = 100,
        offset: int | None = None,
        grep: str | None = None,
        regex: bool = False,
        max_chars: int = 16_000,
    ) -> LogsPage:
        """A page of a job's log (tail, or from ``offset``), redacted, optionally filtered by a
        literal or time-bounded regex ``grep``. Raises NotFoundError for an unknown job and
        UserError for an invalid or too slow regex.
        """
        pattern = joblogs.compile_grep(grep, regex)
        job = self.refresh(job_id)
        self.backend(job.backend).sync_logs(job)
        path = Path(job.job_dir) / joblogs.LOG_FILE
        final = job.is_terminal
        redactor = self._redactor(job)
        if offset is None:
            window = joblogs.read_tail(
                path, lines=tail, max_chars=max_chars, final=final, redact=redactor, grep=pattern
            )
        else:
            window = joblogs.read_forward(
                path,
                offset=offset,
                lines=tail,
                max_chars=max_chars,
                final=final,
                redact=redactor,
                grep=pattern,
            )
        size = path.stat().st_size if path.exists() else 0
        first = window.lines[0].offset if window.lines else window.consumed_to
        # More to read now (a running job's unfinished last line does not count).
        more = window.consumed_to < joblogs.complete_end(path, size, final) if size else False
        truncated = offset is not None and more
        return LogsPage(
            job_id=job.job_id,
            status=job.status,
            text="\n".join(line.text for line in window.lines),
            lines=len(window.lines),
            offset=first,
            next_offset=window.consumed_to,
            log_size=size,
            truncated=truncated,
            collapsed=window.collapsed,
            hint=_logs_hint(job, window.consumed_to, truncated, first, grep, offset is None),
        )

    def _redactor(self, job: JobRecord) -> Callable[[str], str]:
        names = list(job.spec.secrets)
        settings = self.settings
        return lambda text: redact_job_text(text, names, settings)

    # --- cancel ---------------------------------------------------------------------------
    def cancel(self, job_id: str) -> JobRecord:
        """Stop the job and its whole process tree (or the remote job). A finished job is
        returned unchanged."""
        job = self.refresh(job_id)
        if job.is_terminal:
            return job
        update = self.backend(job.backend).cancel(job)
        with self.jobs.transaction() as conn:
            self.jobs.update(conn, job_id, update)
        return self.refresh(job_id)

    def hardware(self, backend: str) -> HardwareReport:
        """The hardware a backend offers (local CPUs/GPUs, HF flavors, the Ray cluster)."""
        return self.backend(backend).hardware()

    def poll_interval(self, job: JobRecord) -> float:
        """How long to wait before checking ``job`` again (shorter while it starts)."""
        return self.backend(job.backend).poll_interval_s


def _apply(job: JobRecord, update: JobUpdate) -> JobRecord:
    changes = update.model_dump(exclude_none=True, exclude={"handle"})
    if update.handle:
        changes["handle"] = {**job.handle, **update.handle}
    return job.model_copy(update=changes)


def _parse_label(label: str | None) -> dict[str, str | None] | None:
    if not label:
        return None
    key, sep, value = label.partition("=")
    if not re.match(LABEL_PATTERN, key) or (sep and not re.match(LABEL_PATTERN, value)):
        raise UserError(
            f"label {label!r} must be 'key' or 'key=value' using letters, digits, '-' and '_'."
        )
    return {key: value if sep else None}


def _logs_hint(
    job: JobRecord, next_offset: int, truncated: bool, first: int, grep: str | None, tail: bool
) -> str | None:
    grep_arg = f", grep={grep!r}" if grep else ""
    call = f"jobs_logs(job_id={job.job_id!r}, offset={next_offset}{grep_arg})"
    if truncated:
        return f"More log follows: call {call}."
    if job.status in TERMINAL_STATUSES:
        if tail and first > 0:
            return f"Earlier lines exist: read from the start with jobs_logs(job_id={job.job_id!r}, offset=0{grep_arg})."
        return None
    return f"The job is {job.status}: call {call} later for new lines."
