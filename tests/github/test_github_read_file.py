"""github_read_file through the real MCP client and PyGithub, against the loopback GitHub fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.github_api import FakeGitHub
from fastmcp.exceptions import ToolError
from github_support import (
    TOKEN,
    TRAIN_SCRIPT,
    TRL_FILES,
    github_settings,
    mcp_client,
    sample_world,
    structured,
    text_of,
)

from server.errors import NotFoundError, UserError
from toolkits.github import core


async def test_reads_lines_with_numbers_and_a_hint_to_continue(tmp_path: Path, era: str) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        async with mcp_client(github_settings(tmp_path, fake), era) as client:
            result = await client.call_tool(
                "github_read_file",
                {
                    "repo": "huggingface/trl",
                    "path": "scripts/train.py",
                    "line_start": 10,
                    "line_end": 12,
                },
            )
    data = structured(result)
    assert data["text"] == "\n".join(TRAIN_SCRIPT.splitlines()[9:12])
    assert (data["line_start"], data["line_end"], data["total_lines"]) == (10, 12, 120)
    assert data["truncated"] is True and data["next_line_start"] == 13
    text = text_of(result)
    assert "   10| print('step 10')  # line 10" in text
    assert "line_start=13" in data["hint"] and "line_start=13" in text
    # The token went to the API endpoint, as a token header, and nowhere into the answer.
    assert {seen.authorization for seen in fake.requests} == {f"token {TOKEN}"}
    assert TOKEN not in text and TOKEN not in str(data)


def test_paging_by_next_line_start_returns_the_whole_file_once(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        settings = github_settings(tmp_path, fake, max_output_chars=1000)
        pieces, line_start, calls = [], 1, 0
        while line_start is not None:
            window = core.read_file(
                settings, "huggingface/trl", "scripts/train.py", None, line_start
            )
            assert len(window.render()) <= settings.max_output_chars
            pieces.append(window.text)
            line_start, calls = window.next_line_start, calls + 1
    assert calls > 3  # the budget really cut the file
    assert "\n".join(pieces) + "\n" == TRAIN_SCRIPT


async def test_notebook_is_markdown_without_outputs(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        async with mcp_client(github_settings(tmp_path, fake)) as client:
            result = await client.call_tool(
                "github_read_file",
                {"repo": "huggingface/trl", "path": "examples/notebooks/grpo_intro.ipynb"},
            )
    data = structured(result)
    assert data["rendered_from"] == "notebook"
    assert "# Fine-tune with GRPO\nTwo steps." in data["text"]
    assert "```python\nfrom trl import GRPOTrainer\ntrainer = GRPOTrainer()\n```" in data["text"]
    assert "OUTPUT_THAT_MUST_NOT_SHOW" not in data["text"]
    assert "1 outputs omitted" in data["text"]
    assert "outputs omitted" in text_of(result).splitlines()[0]


def test_ref_reads_that_version_and_a_wrong_ref_says_what_to_do(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        settings = github_settings(tmp_path, fake)
        old = core.read_file(settings, "huggingface/trl", "scripts/train.py", ref="v0.1")
        assert old.text == "print('old version')" and old.ref == "v0.1"
        assert fake.requests[-1].query == {"ref": "v0.1"}
        with pytest.raises(NotFoundError, match=r"no branch, tag or commit 'v9'.*\(main\)"):
            core.read_file(settings, "huggingface/trl", "scripts/train.py", ref="v9")


def test_large_file_comes_through_the_blob_api(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.inline_limit = 100  # as GitHub does above 1 MB: contents answer without content
        window = core.read_file(
            github_settings(tmp_path, fake), "huggingface/trl", "scripts/train.py", line_end=2
        )
        assert window.text == "print('step 1')  # line 1\nprint('step 2')  # line 2"
        assert any("/git/blobs/" in path for path in fake.paths_requested())


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "examples/scripts/grpp.py",
            r"no file 'examples/scripts/grpp.py'.*examples/scripts/grpo.py",
        ),
        ("examples/scripts", r"is a directory holding grpo.py, sft.py"),
        ("docs/logo.png", r"binary file .*Download it from"),
    ],
)
def test_wrong_kind_of_path_explains_itself(tmp_path: Path, path: str, message: str) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        with pytest.raises(UserError, match=message):
            core.read_file(github_settings(tmp_path, fake), "huggingface/trl", path)


async def test_missing_repo_suggests_the_owners_similar_repos(tmp_path: Path, era: str) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        async with mcp_client(github_settings(tmp_path, fake), era) as client:
            with pytest.raises(ToolError) as raised:
                await client.call_tool(
                    "github_read_file", {"repo": "huggingface/trlx", "path": "README.md"}
                )
    message = str(raised.value)
    assert "no repository 'huggingface/trlx'" in message
    assert "huggingface/trl" in message.split("Similar repositories of huggingface:")[1]


def test_private_repo_without_token_points_at_github_token(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        anonymous = github_settings(tmp_path, fake, github_token=None)
        with pytest.raises(NotFoundError, match="private and GITHUB_TOKEN"):
            core.read_file(anonymous, "alice/secret-lab", "train.py")
        assert all(seen.authorization is None for seen in fake.requests)
        # With the token the same file reads fine: the 404 above was about access.
        assert core.read_file(github_settings(tmp_path, fake), "alice/secret-lab", "train.py")


def test_bad_arguments_are_refused_with_what_is_valid(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        settings = github_settings(tmp_path, fake)
        with pytest.raises(UserError, match=r"line_end \(5\) is before line_start \(9\)"):
            core.read_file(settings, "huggingface/trl", "scripts/train.py", None, 9, 5)
        with pytest.raises(UserError, match="has 120 lines; use a line_start from 1 to 120"):
            core.read_file(settings, "huggingface/trl", "scripts/train.py", None, 500)
        with pytest.raises(UserError, match="not a file path"):
            core.read_file(settings, "huggingface/trl", "../../etc/passwd")
    assert len(fake.requests) == 1  # only line_start past the end needed the file itself


def test_repo_given_as_a_github_url_is_understood(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        window = core.read_file(
            github_settings(tmp_path, fake), "https://github.com/huggingface/trl.git", "README.md"
        )
    assert window.repo == "huggingface/trl"
    assert window.text == str(TRL_FILES["README.md"]).rstrip("\n")


def test_empty_file_is_an_empty_window(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        window = core.read_file(github_settings(tmp_path, fake), "huggingface/trl", "empty.txt")
    assert (window.total_lines, window.text, window.truncated) == (0, "", False)
    assert window.render() == "huggingface/trl:empty.txt — empty"
