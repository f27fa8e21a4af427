"""A loopback fake of the Hugging Face docs site, and settings pointing the docs toolkit at it.

The server starts once per session; each test gets it with the original pages, no recorded
requests and no pending faults.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.docs_site import LIBRARIES, FakeDocsSite
from fakes.loopback import RunningFake, run_fake

from server.settings import Settings


@pytest.fixture(scope="session")
def _docs_server() -> Iterator[tuple[FakeDocsSite, RunningFake]]:
    site = FakeDocsSite()
    with run_fake(site.build_app()) as fake:
        yield site, fake


@pytest.fixture
def site(_docs_server: tuple[FakeDocsSite, RunningFake]) -> FakeDocsSite:
    """The fake's pages: a test may add or remove pages while the server runs."""
    site, _ = _docs_server
    site.libraries = {name: list(pages) for name, pages in LIBRARIES.items()}
    return site


@pytest.fixture
def docs_fake(_docs_server: tuple[FakeDocsSite, RunningFake], site: FakeDocsSite) -> RunningFake:
    _, fake = _docs_server
    fake.reset()
    return fake


@pytest.fixture
def docs_settings(tmp_path: Path, docs_fake: RunningFake) -> Settings:
    return Settings(
        home=tmp_path / "home",
        docs_url=f"{docs_fake.url}/docs",
        http_timeout_s=5,
        toolsets=["docs"],
        _env_file=None,  # type: ignore[call-arg]
    )
