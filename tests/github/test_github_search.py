"""github_search_code: needs a token, sends qualifiers, pages within GitHub's window."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.github_api import FakeGitHub
from fastmcp.exceptions import ToolError
from github_support import TOKEN, github_settings, mcp_client, sample_world, structured, text_of

from server.errors import MissingCredentialError, UserError
from toolkits.github import core


async def test_without_token_says_to_set_github_token(tmp_path: Path, era: str) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        settings = github_settings(tmp_path, fake, github_token=None)
        async with mcp_client(settings, era) as client:
            with pytest.raises(ToolError) as raised:
                await client.call_tool("github_search_code", {"query": "GRPOTrainer"})
    message = str(raised.value)
    assert message.startswith("GITHUB_TOKEN is not set")
    assert "export GITHUB_TOKEN=" in message and "github_find_examples" in message
    assert fake.requests == []  # refused before asking GitHub anything


async def test_finds_code_with_fragments_and_qualifiers(tmp_path: Path, era: str) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        async with mcp_client(github_settings(tmp_path, fake), era) as client:
            result = await client.call_tool(
                "github_search_code",
                {"query": "GRPOTrainer", "repo": "huggingface/trl", "language": "python"},
            )
    data = structured(result)
    assert data["query"] == "GRPOTrainer repo:huggingface/trl language:python"
    assert data["total_count"] == 2 and data["truncated"] is False
    assert [hit["path"] for hit in data["hits"]] == [
        "examples/scripts/grpo.py",
        "trl/trainer/grpo_trainer.py",
    ]
    assert data["hits"][1]["fragments"] == ["class GRPOTrainer:"]
    sent = fake.requests[-1]
    assert sent.query["q"] == data["query"]
    assert "text-match" in (sent.accept or "")  # fragments were asked for
    assert sent.authorization == f"token {TOKEN}"
    assert "huggingface/trl:examples/scripts/grpo.py" in text_of(result)


def test_pages_through_results_by_offset(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        files = {f"src/mod_{n:02}.py": f"import torch  # {n}\n" for n in range(25)}
        fake.add_repo("org/many", files)
        settings = github_settings(tmp_path, fake)
        first = core.search_code(settings, "torch", limit=10)
        assert [hit.path for hit in first.hits] == [f"src/mod_{n:02}.py" for n in range(10)]
        assert first.next_offset == 10 and "offset=10" in (first.hint or "")
        # An offset between pages spans two pages and still returns exactly the window.
        middle = core.search_code(settings, "torch", limit=10, offset=15)
        assert [hit.path for hit in middle.hits] == [f"src/mod_{n:02}.py" for n in range(15, 25)]
        assert middle.truncated is False and middle.next_offset is None
        pages = [(seen.query["page"], seen.query["per_page"]) for seen in fake.requests[-2:]]
        assert pages == [("2", "10"), ("3", "10")]


def test_github_rejecting_the_query_is_explained(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        with pytest.raises(UserError, match=r"invalid \(422: Validation Failed \(The search"):
            core.search_code(github_settings(tmp_path, fake), "path:examples")


def test_invalid_arguments_are_refused_locally(tmp_path: Path) -> None:
    settings = github_settings(tmp_path, None)
    with pytest.raises(UserError, match="not a GitHub repository"):
        core.search_code(settings, "x", repo="not a repo")
    with pytest.raises(UserError, match="only the first 1000 results"):
        core.search_code(settings, "x", offset=1000)
    with pytest.raises(MissingCredentialError) as caught:
        core.search_code(github_settings(tmp_path, None, github_token=None), "x")
    assert caught.value.variable == "GITHUB_TOKEN"
    assert str(caught.value).startswith("GITHUB_TOKEN is not set: ")
