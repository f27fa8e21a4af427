"""Fixtures every test can use. Nothing here reaches outside 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ERAS

from server.settings import Settings
from server.toolkit import ToolkitContext


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's real state dir or uses real credentials."""
    monkeypatch.setenv("MLINTERN_HOME", str(tmp_path / "home"))
    for name in ("HF_TOKEN", "GITHUB_TOKEN", "E2B_API_KEY", "MLINTERN_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FASTMCP_CHECK_FOR_UPDATES", "off")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def toolkit_ctx(settings: Settings) -> ToolkitContext:
    return ToolkitContext(settings=settings)


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    """Run a test once per protocol era: 'legacy' (2025-11-25 handshake) and '2026-07-28'."""
    return request.param
