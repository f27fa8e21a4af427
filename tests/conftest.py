"""Fixtures every test can use. Nothing here reaches outside 127.0.0.1."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# With --import-mode=importlib nothing is put on sys.path for us: make each test folder's
# support modules (sandbox_kit, jobs_support, ...) importable by their plain names.
for _folder in sorted(Path(__file__).parent.iterdir()):
    if _folder.is_dir() and _folder.name not in ("inspector", "__pycache__", "fakes"):
        sys.path.insert(1, str(_folder))
from helpers import ERAS  # noqa: E402

from server.crash_guards import collect_garbage_between_steps  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.toolkit import ToolkitContext  # noqa: E402

# The test process runs in-memory servers and agents too: the same guard as the entry points.
collect_garbage_between_steps()


@pytest.fixture(scope="session", autouse=True)
def _data_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The session's temporary folder is where tests keep their data: the operator's root, as a
    user lists theirs (server/roots.py). State under MLINTERN_HOME stays private all the same."""
    previous = os.environ.get("MLINTERN_ROOTS")
    os.environ["MLINTERN_ROOTS"] = str(tmp_path_factory.getbasetemp())
    yield
    if previous is None:
        os.environ.pop("MLINTERN_ROOTS", None)
    else:
        os.environ["MLINTERN_ROOTS"] = previous


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
