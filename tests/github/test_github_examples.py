"""github_find_examples: the ranking itself, and the tool over the repository tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.github_api import FakeGitHub
from fastmcp.exceptions import ToolError
from github_support import TOKEN, github_settings, mcp_client, sample_world, structured, text_of

from server.errors import NotFoundError
from toolkits.github import core

TREE = [
    ("src/lib/grpo_trainer.py", 900),
    ("examples/scripts/grpo.py", 400),
    ("tests/test_grpo.py", 300),
    ("examples/scripts/sft.py", 380),
    ("examples/notebooks/dpo.ipynb", 5000),
    ("docs/grpo.png", 10),
    ("src/lib/__init__.py", 0),
    (".github/workflows/grpo.yml", 50),
]


def test_example_directories_and_names_outrank_library_and_tests() -> None:
    ranked, matched = core.rank_examples(TREE, "GRPO")
    assert matched is True
    assert [item.path for item in ranked] == [
        "examples/scripts/grpo.py",
        "src/lib/grpo_trainer.py",
        "tests/test_grpo.py",
    ]
    assert ranked[0].why == ["in examples/", "name has grpo"]


def test_multi_word_keyword_matches_names_written_any_way() -> None:
    ranked, _ = core.rank_examples([("a/grpo-trainer.py", 1), ("a/trainer.py", 1)], "grpo_trainer")
    assert [item.path for item in ranked] == ["a/grpo-trainer.py", "a/trainer.py"]
    assert ranked[0].score > ranked[1].score


def test_unmatched_or_empty_keyword_falls_back_to_example_files() -> None:
    ranked, matched = core.rank_examples(TREE, "mamba")
    assert matched is False
    assert {item.path for item in ranked} == {
        "examples/scripts/grpo.py",
        "examples/scripts/sft.py",
        "examples/notebooks/dpo.ipynb",
    }
    everything, matched = core.rank_examples(TREE, "")
    assert matched is True and {i.path for i in everything} == {i.path for i in ranked}


async def test_tool_walks_the_tree_without_a_token(tmp_path: Path, era: str) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        settings = github_settings(tmp_path, fake, github_token=None)
        async with mcp_client(settings, era) as client:
            result = await client.call_tool(
                "github_find_examples", {"repo": "huggingface/trl", "keyword": "grpo", "limit": 2}
            )
    data = structured(result)
    assert data["ref"] == "main" and data["scanned"] == len(fake.repos["huggingface/trl"].files)
    assert [item["path"] for item in data["files"]] == [
        "examples/scripts/grpo.py",
        "examples/notebooks/grpo_intro.ipynb",
    ]
    assert data["matched"] == 4 and data["truncated"] is True and data["next_offset"] == 2
    assert "offset=2" in data["hint"]
    tree_request = fake.requests[-1]
    assert tree_request.path == "/repos/huggingface/trl/git/trees/main"
    assert tree_request.query == {"recursive": "1"}
    assert all(seen.authorization is None for seen in fake.requests)
    assert "1. examples/scripts/grpo.py (52 B) — in examples/; name has grpo" in text_of(result)


def test_truncated_tree_is_flagged(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.tree_truncated = True
        found = core.find_examples(github_settings(tmp_path, fake), "huggingface/trl", "sft")
    assert found.tree_truncated is True
    assert "GitHub truncated this tree" in found.render()


async def test_unknown_repo_suggests_similar_names(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        async with mcp_client(github_settings(tmp_path, fake)) as client:
            with pytest.raises(
                ToolError, match=r"Similar repositories of huggingface: huggingface/peft"
            ):
                await client.call_tool("github_find_examples", {"repo": "huggingface/pefft"})


def test_unknown_owner_and_unknown_ref_are_explained(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        settings = github_settings(tmp_path, fake)
        with pytest.raises(NotFoundError, match="no user or organization 'nobody'"):
            core.find_examples(settings, "nobody/trl")
        with pytest.raises(NotFoundError, match=r"no branch, tag or commit 'dev'.*\(main\)"):
            core.find_examples(settings, "huggingface/trl", ref="dev")
