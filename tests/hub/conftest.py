"""Fixtures: a running fake Hub seeded with repositories, and settings that point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.hub import FakeHub
from hub_world import READ_TOKEN, WRITE_TOKEN, seed, settings_for

from server.settings import Settings


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub(tokens={WRITE_TOKEN: ("alice", True), READ_TOKEN: ("bob", False)})
    seed(hub)
    with hub.running():
        yield hub


@pytest.fixture
def anon_settings(fake_hub: FakeHub, tmp_path: Path) -> Settings:
    return settings_for(fake_hub, tmp_path / "home")


@pytest.fixture
def writer_settings(fake_hub: FakeHub, tmp_path: Path) -> Settings:
    return settings_for(fake_hub, tmp_path / "home", WRITE_TOKEN)
