"""Fixtures of the sandbox tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastmcp import Client
from sandbox_kit import sandbox_server

from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.backends import bwrap
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
