"""Fixtures of the views tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fakes.llm import ScriptedLLM

# Before anything imports litellm: never fetch the price map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    """The scripted model; the test fails if its script is not used up."""
    with ScriptedLLM() as server:
        yield server
    server.check()
