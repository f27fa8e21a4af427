"""Fixtures of the sandbox tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastmcp import Client
from sandbox_kit import sandbox_server

from server import cgroups
from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.backends import bwrap, disk_quota
from toolkits.sandbox.backends.local import unprivileged_identity
from toolkits.sandbox.core import SandboxService


@pytest.fixture
async def mcp(settings: Settings, era: str) -> AsyncIterator[Client]:
    async with Client(sandbox_server(settings), mode=era) as connected:  # type: ignore[call-arg]
        yield connected


@pytest.fixture
def service(settings: Settings) -> SandboxService:
    return SandboxService(settings, StateStore(settings.state_path))


@pytest.fixture
def isolated(settings: Settings) -> None:
    """These tests are about the bubblewrap path: without it they must fail, not pass vacuously."""
    probe = bwrap.probe(settings.sandbox_bwrap, unprivileged_identity())
    if not probe.usable:
        pytest.fail(f"bubblewrap is required here ({probe.reason}); scripts/test.sh installs it")


@pytest.fixture(autouse=True)
def _release_leftover_sandboxes(tmp_path: Path) -> Iterator[None]:
    """Sandboxes a test did not destroy keep a mounted workspace and a cgroup: release them."""
    limiter = cgroups.detect()  # now: a test may switch cgroups off for its own sandboxes
    yield
    for home in tmp_path.glob("**/sandboxes"):
        for root in home.iterdir():
            disk_quota.unmount(root / "workspace")
            limiter.remove(root.name)
