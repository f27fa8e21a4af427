"""Fixtures for the delegation tests: the scripted LLM and an operator config aimed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.llm import ScriptedLLM

from server.settings import Settings
from tasks.taskkit import write_agent_config

# Before anything imports litellm: never fetch the price map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    """The scripted model; the test fails if its script is not used up or a call was unexpected."""
    with ScriptedLLM() as server:
        yield server
    server.check()


@pytest.fixture
def agent_config(tmp_path: Path, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The operator's agent config (MLINTERN_AGENT_CONFIG), pointing at the scripted model."""
    path = write_agent_config(tmp_path / "agent.json", llm)
    monkeypatch.setenv("MLINTERN_AGENT_CONFIG", str(path))
    return path


@pytest.fixture
def task_settings(tmp_path: Path, agent_config: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        toolsets=["plan", "jobs", "experiments", "tasks"],
        _env_file=None,  # type: ignore[call-arg]
    )
