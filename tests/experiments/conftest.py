"""Fixtures for the experiments tests."""

from __future__ import annotations

import pytest

from server.settings import Settings
from server.state import StateStore


@pytest.fixture
def store(settings: Settings) -> StateStore:
    return StateStore(settings.state_path)
