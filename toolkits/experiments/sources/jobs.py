"""A job_id as a metrics source: the jobs toolkit knows where the job writes its metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.errors import NotFoundError, UserError

if TYPE_CHECKING:
    from server.settings import Settings
    from server.state import StateStore

FINISHED = ("completed", "failed", "cancelled", "lost")
CRASHED = ("failed", "lost")


@dataclass
class JobInfo:
    """What the experiments tools need to know about a job (a view of the jobs toolkit's record)."""

    job_id: str
    status: str
    backend: str
    exit_code: int | None
    log_dir: str | None
    job_dir: str | None
    config_file: str | None
    name: str | None
    parent_job_id: str | None
    started_at: float | None
    record: Any  # the jobs toolkit's JobRecord, for resubmission

    @property
    def running(self) -> bool:
        return self.status not in FINISHED

    @property
    def crashed(self) -> bool:
        return self.status in CRASHED


def job_service(settings: Settings, store: StateStore):
    try:
        from toolkits.jobs.core import JobService
    except ImportError as exc:  # the jobs toolkit is an optional part of an install
        raise UserError(
            "Job ids need the jobs toolkit, which is not installed here; pass a log directory "
            "or metrics file as the source instead."
        ) from exc
    return JobService(settings, store)


def find_job(settings: Settings, store: StateStore, job_id: str) -> JobInfo | None:
    """The job's current state (reconciled with its backend), or None if no such job."""
    try:
        service = job_service(settings, store)
    except UserError:
        return None
    try:
        record = service.get(job_id)
    except NotFoundError:
        return None
    try:
        record = service.refresh(job_id)
    except UserError:
        pass  # a remote backend out of reach: its last recorded state still tells a lot
    return job_info(record)


def job_info(record: Any) -> JobInfo:
    spec = record.spec
    status = getattr(record.status, "value", record.status)
    return JobInfo(
        job_id=record.job_id,
        status=str(status),
        backend=str(getattr(record.backend, "value", record.backend)),
        exit_code=record.exit_code,
        log_dir=record.log_dir,
        job_dir=str(record.job_dir) if record.job_dir else None,
        config_file=getattr(spec, "config_file", None),
        name=getattr(spec, "name", None),
        parent_job_id=record.parent_job_id,
        started_at=getattr(record, "started_at", None),
        record=record,
    )


def config_path(job: JobInfo) -> Path | None:
    """The job's config file as an absolute path, resolved the way the jobs toolkit did."""
    if not job.config_file:
        return None
    path = Path(job.config_file).expanduser()
    if path.is_absolute():
        return path
    # Local jobs record the path they resolved at submission; trust it over re-resolving.
    recorded = (getattr(job.record, "handle", None) or {}).get("config_file")
    if recorded and Path(recorded).is_absolute():
        return Path(recorded)
    # Otherwise a relative config_file is relative to the job's working_dir, else the cwd.
    working_dir = getattr(job.record, "working_dir", None)
    if working_dir and (Path(working_dir) / path).is_file():
        return (Path(working_dir) / path).resolve()
    return path.resolve()


def newest_of_chain(settings: Settings, store: StateStore, source: str) -> tuple[str, str | None]:
    """A job id moved to the newest job of its restart chain, with the sentence saying so.

    Anything else (a path, a trackio source, an unknown id) comes back unchanged."""
    if source.startswith("trackio:") or Path(source).expanduser().exists():
        return source, None
    try:
        job_service(settings, store)  # creates the jobs table on a fresh state
        from toolkits.jobs.chains import chain_of

        position = chain_of(store, source)
    except UserError:  # no jobs toolkit, or not a job id: locate() reports it
        return source, None
    return (position.newest, position.note("checking")) if position.moved else (source, None)
