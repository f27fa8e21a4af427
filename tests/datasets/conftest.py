"""Fixtures: a fake Hub with a fake dataset viewer beside it, seeded with a few datasets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from datasets_world import TOKEN, offline_settings, seed, settings_for
from fakes.datasets_server import FakeDatasetsServer
from fakes.hub import FakeHub

from server.settings import Settings


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub(tokens={TOKEN: ("alice", False)})
    with hub.running():
        yield hub


@pytest.fixture
def fake_viewer(fake_hub: FakeHub) -> Iterator[FakeDatasetsServer]:
    viewer = FakeDatasetsServer(fake_hub)
    with viewer.running():
        seed(viewer)
        yield viewer


@pytest.fixture
def hub_settings(fake_hub: FakeHub, fake_viewer: FakeDatasetsServer, tmp_path: Path) -> Settings:
    return settings_for(fake_hub, fake_viewer, tmp_path / "home", TOKEN)


@pytest.fixture
def anon_settings(fake_hub: FakeHub, fake_viewer: FakeDatasetsServer, tmp_path: Path) -> Settings:
    return settings_for(fake_hub, fake_viewer, tmp_path / "home")


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return offline_settings(tmp_path / "home")
