"""Loopback fakes of the Hugging Face papers API, arXiv and Semantic Scholar, and settings
pointing the papers toolkit at them.

The servers start once per session (starting and stopping uvicorn costs a fraction of a
second); each test gets them with no recorded requests and no pending faults.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import arxiv, hf_papers, semantic_scholar
from fakes.loopback import RunningFake, run_fake

from server.settings import Settings
from server.state import StateStore


@pytest.fixture(scope="session")
def _papers_fakes() -> Iterator[dict[str, RunningFake]]:
    with (
        run_fake(hf_papers.build_app()) as hub,
        run_fake(arxiv.build_app()) as arxiv_site,
        run_fake(semantic_scholar.build_app()) as s2,
    ):
        yield {"hub": hub, "arxiv": arxiv_site, "s2": s2}


@pytest.fixture
def hub(_papers_fakes: dict[str, RunningFake]) -> RunningFake:
    _papers_fakes["hub"].reset()
    return _papers_fakes["hub"]


@pytest.fixture
def arxiv_site(_papers_fakes: dict[str, RunningFake]) -> RunningFake:
    _papers_fakes["arxiv"].reset()
    return _papers_fakes["arxiv"]


@pytest.fixture
def s2(_papers_fakes: dict[str, RunningFake]) -> RunningFake:
    _papers_fakes["s2"].reset()
    return _papers_fakes["s2"]


@pytest.fixture
def papers_settings(
    tmp_path: Path, hub: RunningFake, arxiv_site: RunningFake, s2: RunningFake
) -> Settings:
    return Settings(
        home=tmp_path / "home",
        hf_endpoint=hub.url,
        arxiv_url=arxiv_site.url,
        semantic_scholar_url=s2.url,
        http_timeout_s=5,
        toolsets=["papers"],
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def store(papers_settings: Settings) -> StateStore:
    return StateStore(papers_settings.state_path)
