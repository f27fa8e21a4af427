"""Fixtures for the agent tests: the scripted LLM, a config pointing at it, a small lab server.

Test modules load this file as a plugin (``pytest_plugins = ["agent_testkit"]``): a
``conftest.py`` in this non-package folder would take the module name ``conftest`` from the
suite's root conftest, and an ``__init__.py`` would make this folder shadow the ``agent``
package.

The LLM is always ``tests/fakes/llm.py`` reached through litellm's real code path (which never
fetches its price map: ``agent.llm.import_litellm`` sets LITELLM_LOCAL_MODEL_COST_MAP); the tools
are real MCP servers (the bundled mlintern server and ``lab`` from ``agent_helpers``) reached
through fastmcp's real client.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import TINY_MODEL, LabState, build_lab
from fakes.llm import ScriptedLLM
from fastmcp import FastMCP


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's ~/.config/mlintern/agent.json."""
    monkeypatch.setenv("MLINTERN_AGENT_CONFIG", str(tmp_path / "no-user-config.json"))


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    """The scripted model; the test fails if its script is not used up or a call was unexpected."""
    with ScriptedLLM() as server:
        yield server
    server.check()


@pytest.fixture(scope="session")
def tiny_model() -> str:
    """A model litellm knows with a 4096-token window and a price (for budget tests)."""
    from agent.llm import import_litellm

    import_litellm().register_model(
        {
            TINY_MODEL: {
                "max_input_tokens": 4096,
                "max_tokens": 4096,
                "max_output_tokens": 1024,
                "input_cost_per_token": 1e-5,
                "output_cost_per_token": 3e-5,
                "litellm_provider": "openai",
                "mode": "chat",
            }
        }
    )
    return TINY_MODEL


@pytest.fixture
def lab_state() -> LabState:
    return LabState()


@pytest.fixture
def lab(lab_state: LabState) -> FastMCP:
    return build_lab(lab_state)
