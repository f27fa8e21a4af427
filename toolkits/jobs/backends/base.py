"""The one interface every backend implements."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import ClassVar

from server.errors import UserError
from server.settings import Settings
from toolkits.jobs.backends import BACKENDS
from toolkits.jobs.inputs import ResolvedInputs
from toolkits.jobs.models import HardwareReport, JobRecord, JobUpdate
from toolkits.jobs.store import JobStore


class Backend(ABC):
    """Runs jobs somewhere. All methods are synchronous and may block (HTTP, process spawn);
    the MCP layer calls them from a worker thread."""

    name: ClassVar[str]
    # Seconds between polls while a caller waits on a job: local status is a file read,
    # remote status is an API call that should not be hammered.
    poll_interval_s: ClassVar[float] = 2.0

    def __init__(self, settings: Settings, jobs: JobStore):
        self.settings = settings
        self.jobs = jobs

    def prepare(self, job: JobRecord, inputs: ResolvedInputs) -> JobUpdate:
        """Check backend-specific parts of a submission and stage its files in ``job.job_dir``,
        before the job is recorded. Raise UserError for what cannot work here."""
        return JobUpdate()

    @abstractmethod
    def start(self, job: JobRecord, inputs: ResolvedInputs) -> JobUpdate:
        """Start (or queue) a recorded job and return at once, without waiting for it."""

    @abstractmethod
    def refresh(self, jobs: list[JobRecord]) -> dict[str, JobUpdate]:
        """Current state of these non-terminal jobs, keyed by job_id (missing = unchanged)."""

    @abstractmethod
    def cancel(self, job: JobRecord) -> JobUpdate:
        """Stop the job and everything it started."""

    @abstractmethod
    def hardware(self) -> HardwareReport:
        """What this backend can run jobs on."""

    def sync_logs(self, job: JobRecord) -> None:  # noqa: B027 - optional hook
        """Bring ``<job_dir>/output.log`` up to date (remote backends download it)."""

    def process_alive(self, job: JobRecord) -> bool | None:
        """Whether the job's processes exist, when that can be observed."""
        return None


def load_backend(name: str, settings: Settings, jobs: JobStore) -> Backend:
    target = BACKENDS.get(name)
    if target is None:
        raise UserError(f"Unknown backend {name!r}: use one of {', '.join(BACKENDS)}.")
    module_name, _, class_name = target.partition(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(settings, jobs)
