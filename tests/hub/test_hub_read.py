"""hub_search and hub_repo (info, list, read) through the MCP client, against
the fake Hub with the real huggingface_hub client."""

from __future__ import annotations

import pytest
from fakes.hub import FakeHub
from fastmcp.exceptions import ToolError
from hub_world import hub_client, out, text

from server.settings import Settings


async def test_search_sorts_and_pages_with_next_offset(anon_settings: Settings, era: str) -> None:
    async with hub_client(anon_settings, era) as c:
        first = await c.call_tool("hub_search", {"query": "bert", "limit": 3})
        page = out(first)
        assert [r["id"] for r in page["results"]] == [
            f"bert-team/bert-variant-{i}" for i in (6, 5, 4)
        ]
        assert page["truncated"] is True and page["next_offset"] == 3
        assert "offset=3" in text(first)
        second = await c.call_tool("hub_search", {"query": "bert", "limit": 3, "offset": 3})
        assert [r["id"][-1] for r in out(second)["results"]] == ["3", "2", "1"]
        last = await c.call_tool("hub_search", {"query": "bert", "limit": 3, "offset": 6})
        assert [r["id"] for r in out(last)["results"]] == ["bert-team/bert-variant-0"]
        assert out(last)["truncated"] is False
        assert out(last)["next_offset"] is None


async def test_search_applies_filters_sort_and_kind(anon_settings: Settings) -> None:
    async with hub_client(anon_settings) as c:
        by_likes = await c.call_tool(
            "hub_search", {"filters": ["text-generation"], "sort": "likes", "limit": 5}
        )
        assert [r["id"] for r in out(by_likes)["results"]] == ["openai-community/gpt2"]
        datasets = await c.call_tool("hub_search", {"query": "imdb", "kind": "dataset"})
        assert [r["id"] for r in out(datasets)["results"]] == ["stanfordnlp/imdb"]
        nothing = await c.call_tool("hub_search", {"query": "no-such-thing"})
        assert out(nothing)["results"] == []
        assert "Try fewer words" in text(nothing)
        with pytest.raises(ToolError, match="Spaces have no download counts"):
            await c.call_tool("hub_search", {"kind": "space", "sort": "downloads"})


async def test_repo_info_reads_license_card_parameters_and_size(
    anon_settings: Settings, fake_hub: FakeHub, era: str
) -> None:
    async with hub_client(anon_settings, era) as c:
        result = await c.call_tool("hub_repo", {"op": "info", "repo_id": "alice/tiny-sentiment"})
    info = out(result)
    assert info["license"] == "apache-2.0"
    assert info["base_models"] == ["openai-community/gpt2"] and info["datasets"] == ["imdb"]
    # No safetensors summary in the Hub's answer: the count comes from the file's header.
    assert info["parameters"] == 100 * 16 + 16 * 2
    assert info["parameters_by_dtype"] == {"F32": 1600, "BF16": 32}
    files = fake_hub.repos[("model", "alice/tiny-sentiment")].refs["main"]
    assert info["size_bytes"] == sum(len(data) for data in files.values())
    assert info["file_count"] == len(files)
    assert info["card_summary"].startswith("# Tiny sentiment model")
    assert "base_model:" not in info["card_summary"]  # the YAML front matter is not a summary
    assert "parameters: 1.6K" in text(result)


async def test_repo_info_prefers_the_hubs_safetensors_summary(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    async with hub_client(anon_settings) as c:
        result = await c.call_tool("hub_repo", {"op": "info", "repo_id": "openai-community/gpt2"})
    assert out(result)["parameters"] == 137_022_720
    assert out(result)["license"] == "mit"  # from the license: tag
    assert not any("model.safetensors" in p for p in fake_hub.recorder.paths())


async def test_list_files_lists_a_folder_recursively_and_pages(anon_settings: Settings) -> None:
    async with hub_client(anon_settings) as c:
        root = await c.call_tool("hub_repo", {"op": "list", "repo_id": "alice/tiny-sentiment"})
        entries = {e["path"]: e for e in out(root)["entries"]}
        assert entries["train"]["type"] == "folder" and "train/train.py" not in entries
        assert entries["config.json"]["size"] > 0
        folder = await c.call_tool(
            "hub_repo", {"op": "list", "repo_id": "alice/tiny-sentiment", "path": "train"}
        )
        assert [e["path"] for e in out(folder)["entries"]] == [
            "train/args.yaml",
            "train/train.py",
        ]
        everything = await c.call_tool(
            "hub_repo",
            {"op": "list", "repo_id": "alice/tiny-sentiment", "recursive": True, "limit": 4},
        )
        page = out(everything)
        assert len(page["entries"]) == 4 and page["truncated"] and page["next_offset"] == 4
        rest = await c.call_tool(
            "hub_repo",
            {
                "op": "list",
                "repo_id": "alice/tiny-sentiment",
                "recursive": True,
                "limit": 4,
                "offset": 4,
            },
        )
        seen = [e["path"] for e in page["entries"] + out(rest)["entries"]]
        assert "train/train.py" in seen and len(seen) == len(set(seen)) == 8
        with pytest.raises(ToolError, match=r"hub_repo\(op='list'\)"):
            await c.call_tool(
                "hub_repo", {"op": "list", "repo_id": "alice/tiny-sentiment", "path": "nope"}
            )


async def test_read_file_pages_a_text_file(
    anon_settings: Settings, fake_hub: FakeHub, era: str
) -> None:
    content = (
        fake_hub.repos[("model", "alice/tiny-sentiment")].refs["main"]["train/train.py"].decode()
    )
    args = {
        "op": "read",
        "repo_id": "alice/tiny-sentiment",
        "path": "train/train.py",
        "max_chars": 1000,
    }
    async with hub_client(anon_settings, era) as c:
        first = await c.call_tool("hub_repo", args)
        window = out(first)
        assert window["text"] == content[:1000]
        assert window["truncated"] and window["next_offset"] == 1000
        assert window["total_chars"] == len(content)
        assert "offset=1000" in text(first)
        second = await c.call_tool(
            "hub_repo", {"op": "read", **args, "offset": window["next_offset"]}
        )
        assert out(second)["text"] == content[1000:2000]


async def test_read_file_detects_binary_without_dumping_it(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    async with hub_client(anon_settings) as c:
        by_content = await c.call_tool(
            "hub_repo", {"op": "read", "repo_id": "alice/tiny-sentiment", "path": "data.txt"}
        )
        by_name = await c.call_tool(
            "hub_repo", {"op": "read", "repo_id": "alice/tiny-sentiment", "path": "logo.png"}
        )
    for result, name in ((by_content, "data.txt"), (by_name, "logo.png")):
        assert out(result)["binary"] is True
        assert out(result)["text"] == ""
        assert text(result).startswith(f"alice/tiny-sentiment:{name} (") and text(result).endswith(
            ") is binary; its content is not shown. Binary file: inspect "
            "data files with datasets_inspect, model weights with hub_repo(op='info') (parameter "
            "count), or download it in a sandbox."
        )
    # Known binary types are recognised by name: their bytes are never fetched.
    assert not any(p.endswith("/logo.png") for p in fake_hub.recorder.paths())


async def test_read_file_refuses_folders_large_files_and_suggests_names(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    fake_hub.repos[("model", "alice/tiny-sentiment")].refs["main"]["big.jsonl"] = (
        b"{}\n" * 3_000_000
    )
    async with hub_client(anon_settings) as c:
        with pytest.raises(ToolError, match=r"is a folder.*hub_repo\(.*op='list'"):
            await c.call_tool(
                "hub_repo", {"op": "read", "repo_id": "alice/tiny-sentiment", "path": "train"}
            )
        with pytest.raises(ToolError, match=r"Did you mean: train/train\.py"):
            await c.call_tool(
                "hub_repo",
                {"op": "read", "repo_id": "alice/tiny-sentiment", "path": "train/trian.py"},
            )
        with pytest.raises(ToolError, match=r"9,000,000 bytes.*datasets_inspect"):
            await c.call_tool(
                "hub_repo", {"op": "read", "repo_id": "alice/tiny-sentiment", "path": "big.jsonl"}
            )
    assert not any(p.endswith("/big.jsonl") for p in fake_hub.recorder.paths())


async def test_parameters_are_bounded_by_the_schema(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    async with hub_client(anon_settings) as c:
        bad = await c.call_tool(
            "hub_repo", {"op": "info", "repo_id": "../../etc/passwd"}, raise_on_error=False
        )
        assert bad.is_error and "repo_id" in bad.content[0].text
        assert "a repository id looks like 'namespace/name'" in bad.content[0].text
        too_many = await c.call_tool("hub_search", {"limit": 500}, raise_on_error=False)
        assert too_many.is_error and "less than or equal to 50" in too_many.content[0].text
    assert not any("passwd" in p for p in fake_hub.recorder.paths())  # refused before any request
