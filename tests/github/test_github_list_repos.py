"""github_list_repos: every page is read before sorting; users and orgs; the tool contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.github_api import FakeGitHub
from fastmcp.exceptions import ToolError
from github_support import TOKEN, github_settings, mcp_client, sample_world, structured, text_of

from toolkits.github import core, repos


def many_repos(fake: FakeGitHub, owner: str, count: int) -> None:
    # Pushed order (what the API pages by) is the reverse of star order: the most-starred
    # repositories sit on the last page, so only a sort across all pages finds them.
    for n in range(count):
        pushed = f"2024-01-01T00:{n // 60:02}:{n % 60:02}Z"
        fake.add_repo(f"{owner}/repo-{n:03}", stars=count - n, forks=n, pushed_at=pushed)


async def test_sorts_by_stars_across_all_pages_with_progress(tmp_path: Path, era: str) -> None:
    reported: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, message))

    with FakeGitHub(token=TOKEN) as fake:
        fake.owners["bigorg"] = "Organization"
        many_repos(fake, "bigorg", 250)
        async with mcp_client(github_settings(tmp_path, fake), era) as client:
            result = await client.call_tool(
                "github_list_repos",
                {"owner": "bigorg", "limit": 3},
                progress_handler=on_progress,
            )
    data = structured(result)
    assert [r["full_name"] for r in data["repos"]] == [f"bigorg/repo-{n:03}" for n in range(3)]
    assert [r["stars"] for r in data["repos"]] == [250, 249, 248]
    assert data["scanned"] == 250 and data["complete"] is True
    assert data["owner_type"] == "Organization" and data["next_offset"] == 3
    pages = [seen.query for seen in fake.requests if seen.path == "/orgs/bigorg/repos"]
    assert [(q.get("page", "1"), q["per_page"], q["sort"]) for q in pages] == [
        ("1", "100", "pushed"),
        ("2", "100", "pushed"),
        ("3", "100", "pushed"),
    ]
    assert [done for done, _ in reported] == [100, 200]
    assert "1. bigorg/repo-000 ★250" in text_of(result)


@pytest.mark.parametrize(
    ("sort", "first"),
    [("forks", "alice/repo-039"), ("updated", "alice/repo-039"), ("name", "alice/repo-000")],
)
def test_other_sorts_for_a_user(tmp_path: Path, sort: core.RepoSort, first: str) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        many_repos(fake, "alice", 40)
        listed = core.list_repos(github_settings(tmp_path, fake), "alice", sort, limit=5)
    assert listed.repos[0].full_name == first and listed.owner_type == "User"
    assert fake.paths_requested("/users/alice/repos") == ["/users/alice/repos"]


def test_offset_continues_and_the_scan_is_capped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(repos, "MAX_REPOS_SCANNED", 120)
    with FakeGitHub(token=TOKEN) as fake:
        many_repos(fake, "alice", 130)
        settings = github_settings(tmp_path, fake)
        listed = core.list_repos(settings, "alice", "name", limit=50, offset=100)
    # The 120 most recently pushed (repo-010 .. repo-129) were scanned, then sorted by name.
    assert [r.full_name for r in listed.repos][:2] == ["alice/repo-110", "alice/repo-111"]
    assert len(listed.repos) == 20 and listed.scanned == 120 and listed.complete is False
    assert listed.truncated is False and listed.next_offset is None
    assert "only the 120 most recently pushed were scanned" in listed.render()


async def test_unknown_owner_is_a_clear_tool_error(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        async with mcp_client(github_settings(tmp_path, fake)) as client:
            with pytest.raises(ToolError, match="no user or organization 'hugginface'"):
                await client.call_tool("github_list_repos", {"owner": "hugginface"})
            with pytest.raises(ToolError, match="not a GitHub user or organization login"):
                await client.call_tool("github_list_repos", {"owner": "no spaces allowed"})


async def test_tools_declare_the_contract(tmp_path: Path) -> None:
    async with mcp_client(github_settings(tmp_path, None)) as client:
        tools = {tool.name: tool for tool in await client.list_tools()}
    assert set(tools) == {
        "github_search_code",
        "github_find_examples",
        "github_list_repos",
        "github_read_file",
    }
    for tool in tools.values():
        hints = tool.annotations
        assert hints is not None and tool.title and tool.description and tool.output_schema
        assert (hints.read_only_hint, hints.destructive_hint) == (True, False)
        assert (hints.idempotent_hint, hints.open_world_hint) == (True, True)
        assert "ctx" not in tool.input_schema["properties"]
    limit = tools["github_list_repos"].input_schema["properties"]["limit"]
    # The floor of 1 is checked by the validator, not spelled out (tests/test_schema_slim.py).
    assert limit["maximum"] == 100 and "minimum" not in limit
    sort = tools["github_list_repos"].input_schema["properties"]["sort"]
    assert sort["enum"] == ["stars", "forks", "updated", "name"]
