"""Fixtures of the jobs tests. Every local job a test starts is stopped by pid afterwards."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import job_folder
from jobs_support import local_ray_head, stop_leftover_jobs

from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService


@pytest.fixture(autouse=True)
def _no_leftover_jobs(tmp_path: Path) -> Iterator[None]:
    yield
    stop_leftover_jobs(tmp_path / "home")


@pytest.fixture
def service(settings: Settings) -> JobService:
    return JobService(settings, StateStore(settings.state_path))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder for jobs, writable by the uid isolated jobs run as (65534 under root),
    as an operator prepares one (local_isolation.py says so when it is not)."""
    return job_folder(tmp_path / "work")


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray is not installed: pip install 'mlintern[ray]' to run the ray tests")
    with local_ray_head() as url:
        yield url
