"""Fixtures for the experiments tests."""

from __future__ import annotations

import pytest

from server.settings import Settings
from server.state import StateStore


@pytest.fixture
def store(settings: Settings) -> StateStore:
    return StateStore(settings.state_path)


@pytest.fixture
def jobs(settings: Settings, store: StateStore):
    """The jobs toolkit's service; every job still active at the end is cancelled (by pid)."""
    from toolkits.jobs.core import JobService

    service = JobService(settings, store)
    yield service
    for status in ("queued", "running"):
        for job in service.list(status=status):
            service.cancel(job.job_id)
