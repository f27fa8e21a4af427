"""What the GitHub tests share: settings pointed at the fake, an MCP client, a sample world.

No conftest.py here on purpose: a second top-level ``conftest`` module would replace the root one
in sys.modules and break ``from conftest import ...`` elsewhere in the suite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fakes.github_api import FakeGitHub
from fastmcp import Client

from server.app import build_server
from server.settings import Settings

TOKEN = "ghp_testTokenThatMustNeverLeak0123456789"

TRAIN_SCRIPT = "\n".join(f"print('step {n}')  # line {n}" for n in range(1, 121)) + "\n"
NOTEBOOK = json.dumps(
    {
        "nbformat": 4,
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "cells": [
            {"cell_type": "markdown", "source": ["# Fine-tune with GRPO\n", "Two steps."]},
            {
                "cell_type": "code",
                "source": ["from trl import GRPOTrainer\n", "trainer = GRPOTrainer()"],
                "outputs": [{"output_type": "stream", "text": ["OUTPUT_THAT_MUST_NOT_SHOW"]}],
            },
            {"cell_type": "code", "source": "", "outputs": []},
        ],
    }
)
TRL_FILES: dict[str, str | bytes] = {
    "README.md": "# TRL\nTrain transformer language models with reinforcement learning.\n",
    "trl/__init__.py": "",
    "trl/trainer/grpo_trainer.py": "class GRPOTrainer:\n    pass\n",
    "trl/trainer/sft_trainer.py": "class SFTTrainer:\n    pass\n",
    "examples/scripts/grpo.py": "from trl import GRPOTrainer\ntrainer = GRPOTrainer()\n",
    "examples/scripts/sft.py": "from trl import SFTTrainer\ntrainer = SFTTrainer()\n",
    "examples/notebooks/grpo_intro.ipynb": NOTEBOOK,
    "examples/README.md": "# Examples\n",
    "tests/test_grpo_trainer.py": "def test_grpo():\n    assert True\n",
    "docs/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "scripts/train.py": TRAIN_SCRIPT,
    "empty.txt": "",
}


def github_settings(tmp_path: Path, fake: FakeGitHub | None, **overrides: Any) -> Settings:
    """Settings for the github toolset against ``fake``: short waits keep retry tests fast."""
    values: dict[str, Any] = {
        "home": tmp_path / "home",
        "toolsets": ["github"],
        "github_api_url": fake.url if fake else "http://127.0.0.1:9",
        "github_token": TOKEN,
        "github_max_retries": 2,
        "github_max_wait_s": 0.2,
        "http_timeout_s": 5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def mcp_client(settings: Settings, era: str = "2026-07-28", **kwargs: Any) -> Client:
    """The real MCP client, in memory, against the server as ``build_server`` assembles it."""
    return Client(build_server(settings), mode=era, **kwargs)


def sample_world(fake: FakeGitHub) -> None:
    """huggingface (an org) with trl and a few more repos; a user with a private repo."""
    fake.owners["huggingface"] = "Organization"
    fake.add_repo(
        "huggingface/trl",
        TRL_FILES,
        stars=12000,
        forks=1500,
        refs={
            "v0.1": {
                "scripts/train.py": "print('old version')\n",
            }
        },
    )
    fake.add_repo("huggingface/transformers", {"README.md": "# Transformers\n"}, stars=140000)
    fake.add_repo("huggingface/peft", {"README.md": "# PEFT\n"}, stars=18000)
    fake.add_repo("alice/secret-lab", {"train.py": "print('private')\n"}, private=True)


def structured(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, "the tool returned no structured content"
    return result.structured_content


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)
