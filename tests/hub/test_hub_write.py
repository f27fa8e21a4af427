"""hub_write (create, upload, delete) against the fake Hub: what lands in the repository,
what is refused before anything is sent, and how each refusal reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes.hub import FakeHub
from fastmcp.exceptions import ToolError
from hub_world import READ_TOKEN, WRITE_TOKEN, hub_client, out, settings_for, text

from server.settings import Settings


def posts(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.recorder.requests if r.method == "POST"]


def main_files(hub: FakeHub, repo_id: str) -> dict[str, bytes]:
    return hub.repos[("model", repo_id)].refs["main"]


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("hub_write", {"op": "create", "repo_id": "alice/x"}),
        (
            "hub_write",
            {"op": "upload", "repo_id": "alice/tiny-sentiment", "path": "a.txt", "content": "a"},
        ),
        ("hub_write", {"op": "delete", "repo_id": "alice/tiny-sentiment", "paths": ["data.txt"]}),
    ],
)
async def test_writes_without_a_token_say_so_and_send_nothing(
    anon_settings: Settings, fake_hub: FakeHub, tool: str, args: dict
) -> None:
    async with hub_client(anon_settings) as c:
        with pytest.raises(ToolError, match=r"HF_TOKEN is not set.*export HF_TOKEN="):
            await c.call_tool(tool, args)
    assert fake_hub.recorder.requests == []


async def test_create_repo_in_own_namespace_then_conflict_then_exist_ok(
    writer_settings: Settings, fake_hub: FakeHub, era: str
) -> None:
    async with hub_client(writer_settings, era) as c:
        made = await c.call_tool("hub_write", {"op": "create", "repo_id": "fresh-model"})
        assert out(made)["repo_id"] == "alice/fresh-model"
        assert out(made)["created"] is True
        assert out(made)["url"] == f"{fake_hub.url}/alice/fresh-model"
        assert fake_hub.repos[("model", "alice/fresh-model")].private is True
        with pytest.raises(ToolError, match=r"already exists. Pass exist_ok=true"):
            await c.call_tool("hub_write", {"op": "create", "repo_id": "alice/fresh-model"})
        again = await c.call_tool(
            "hub_write", {"op": "create", "repo_id": "alice/fresh-model", "exist_ok": True}
        )
        assert out(again)["created"] is False
        public = await c.call_tool(
            "hub_write",
            {"op": "create", "repo_id": "alice/demo", "kind": "dataset", "private": False},
        )
        assert out(public)["url"].endswith("/datasets/alice/demo")
        assert fake_hub.repos[("dataset", "alice/demo")].private is False


async def test_create_space_needs_an_sdk(writer_settings: Settings, fake_hub: FakeHub) -> None:
    async with hub_client(writer_settings) as c:
        with pytest.raises(ToolError, match="space_sdk, one of: gradio"):
            await c.call_tool(
                "hub_write", {"op": "create", "repo_id": "alice/app", "kind": "space"}
            )
        await c.call_tool(
            "hub_write",
            {"op": "create", "repo_id": "alice/app", "kind": "space", "space_sdk": "gradio"},
        )
    assert fake_hub.repos[("space", "alice/app")].info["sdk"] == "gradio"


async def test_read_only_token_is_told_it_lacks_write_access(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    async with hub_client(settings_for(fake_hub, tmp_path / "home", READ_TOKEN)) as c:
        with pytest.raises(ToolError, match=r"Permission denied \(403\).*write access"):
            await c.call_tool("hub_write", {"op": "create", "repo_id": "bob/x"})


async def test_upload_content_commits_the_file_and_reports_progress(
    writer_settings: Settings, fake_hub: FakeHub
) -> None:
    reported: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, total, message))

    async with hub_client(writer_settings) as c:
        result = await c.call_tool(
            "hub_write",
            {
                "op": "upload",
                "repo_id": "alice/tiny-sentiment",
                "path": "notes/eval.md",
                "content": "acc 0.91",
            },
            progress_handler=on_progress,
        )
    assert main_files(fake_hub, "alice/tiny-sentiment")["notes/eval.md"] == b"acc 0.91"
    commit = out(result)
    assert commit["paths"] == ["notes/eval.md"] and commit["bytes_uploaded"] == 8
    assert commit["commit_url"].startswith(f"{fake_hub.url}/alice/tiny-sentiment/commit/")
    assert reported[0][0] == 0 and reported[-1][:2] == (1, 1)
    assert WRITE_TOKEN not in text(result)


async def test_upload_a_local_folder_keeps_its_layout(
    writer_settings: Settings, fake_hub: FakeHub, tmp_path: Path
) -> None:
    folder = tmp_path / "checkpoint"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"lr": 0.1}')
    (folder / "sub" / "weights.bin").write_bytes(b"\x01\x02")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: main")
    async with hub_client(writer_settings) as c:
        result = await c.call_tool(
            "hub_write",
            {
                "op": "upload",
                "repo_id": "alice/tiny-sentiment",
                "path": "ckpt",
                "local_path": str(folder),
            },
        )
    files = main_files(fake_hub, "alice/tiny-sentiment")
    assert (
        files["ckpt/config.json"] == b'{"lr": 0.1}' and files["ckpt/sub/weights.bin"] == b"\x01\x02"
    )
    assert not any(".git/" in p for p in files)
    assert sorted(out(result)["paths"]) == [
        "ckpt/config.json",
        "ckpt/sub/weights.bin",
    ]


async def test_upload_from_a_sandbox_workspace(
    writer_settings: Settings, fake_hub: FakeHub
) -> None:
    workspace = writer_settings.home / "sandboxes" / "sbx-1" / "workspace"
    (workspace / "out").mkdir(parents=True)
    (workspace / "out" / "model.txt").write_text("trained")
    async with hub_client(writer_settings) as c:
        for path in ("out/model.txt", "/workspace/out/model.txt"):
            await c.call_tool(
                "hub_write",
                {
                    "op": "upload",
                    "repo_id": "alice/tiny-sentiment",
                    "path": f"from-sandbox/{path.count('/')}.txt",
                    "sandbox_id": "sbx-1",
                    "sandbox_path": path,
                },
            )
    files = main_files(fake_hub, "alice/tiny-sentiment")
    assert files["from-sandbox/1.txt"] == files["from-sandbox/3.txt"] == b"trained"


async def test_sandbox_paths_cannot_escape_the_workspace(
    writer_settings: Settings, fake_hub: FakeHub, tmp_path: Path
) -> None:
    workspace = writer_settings.home / "sandboxes" / "sbx-1" / "workspace"
    workspace.mkdir(parents=True)
    secret = tmp_path / "outside.txt"
    secret.write_text("not yours")
    os.symlink(secret, workspace / "link.txt")
    base = {"repo_id": "alice/tiny-sentiment", "path": "x.txt", "sandbox_id": "sbx-1"}
    async with hub_client(writer_settings) as c:
        for escape in ("../../../state.sqlite3", "link.txt"):
            with pytest.raises(ToolError, match="leaves the workspace of sandbox sbx-1"):
                await c.call_tool("hub_write", {"op": "upload", **base, "sandbox_path": escape})
        with pytest.raises(ToolError, match=r"No sandbox 'sbx-9'.*sandbox_list"):
            await c.call_tool(
                "hub_write", {"op": "upload", **base, "sandbox_id": "sbx-9", "sandbox_path": "a"}
            )
    assert posts(fake_hub) == []


async def test_upload_needs_exactly_one_source_and_a_clean_path(
    writer_settings: Settings, fake_hub: FakeHub, tmp_path: Path
) -> None:
    base = {"repo_id": "alice/tiny-sentiment", "path": "a.txt"}
    state = writer_settings.home / "state.sqlite3"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"SQLite format 3")
    async with hub_client(writer_settings) as c:
        with pytest.raises(ToolError, match=r"exactly one source.*Got: none"):
            await c.call_tool("hub_write", {"op": "upload", **base})
        with pytest.raises(ToolError, match="Got: content, local_path"):
            await c.call_tool(
                "hub_write", {"op": "upload", **base, "content": "a", "local_path": str(tmp_path)}
            )
        with pytest.raises(ToolError, match="not a clean relative path"):
            await c.call_tool(
                "hub_write", {"op": "upload", **base, "path": "../a.txt", "content": "a"}
            )
        with pytest.raises(ToolError, match="state directory"):
            await c.call_tool("hub_write", {"op": "upload", **base, "local_path": str(state)})
    assert posts(fake_hub) == []


async def test_upload_refuses_content_holding_the_token(
    writer_settings: Settings, fake_hub: FakeHub
) -> None:
    leak = f"HF_TOKEN={WRITE_TOKEN}\n"
    async with hub_client(writer_settings) as c:
        with pytest.raises(ToolError) as refused:
            await c.call_tool(
                "hub_write",
                {
                    "op": "upload",
                    "repo_id": "alice/tiny-sentiment",
                    "path": ".env",
                    "content": leak,
                },
            )
    assert "contains the value of HF_TOKEN" in str(refused.value)
    assert WRITE_TOKEN not in str(refused.value)
    assert posts(fake_hub) == []


async def test_upload_as_pull_request_leaves_main_alone(
    writer_settings: Settings, fake_hub: FakeHub
) -> None:
    async with hub_client(writer_settings) as c:
        result = await c.call_tool(
            "hub_write",
            {
                "op": "upload",
                "repo_id": "alice/tiny-sentiment",
                "path": "p.txt",
                "content": "p",
                "create_pr": True,
            },
        )
    assert out(result)["pr_url"] == f"{fake_hub.url}/alice/tiny-sentiment/discussions/1"
    assert "p.txt" not in main_files(fake_hub, "alice/tiny-sentiment")
    assert fake_hub.repos[("model", "alice/tiny-sentiment")].refs["refs/pr/1"]["p.txt"] == b"p"


async def test_upload_to_a_missing_repo_says_to_create_it(writer_settings: Settings) -> None:
    async with hub_client(writer_settings) as c:
        with pytest.raises(ToolError, match=r"hub_write\(repo_id='alice/nope', op='create'"):
            await c.call_tool(
                "hub_write", {"op": "upload", "repo_id": "alice/nope", "path": "a", "content": "a"}
            )


async def test_delete_files_and_folders(writer_settings: Settings, fake_hub: FakeHub) -> None:
    async with hub_client(writer_settings) as c:
        result = await c.call_tool(
            "hub_write",
            {"op": "delete", "repo_id": "alice/tiny-sentiment", "paths": ["train", "logo.png"]},
        )
    files = main_files(fake_hub, "alice/tiny-sentiment")
    assert "logo.png" not in files and not any(p.startswith("train/") for p in files)
    assert "README.md" in files
    assert out(result)["paths"] == ["train", "logo.png"]


async def test_delete_with_a_missing_path_deletes_nothing(
    writer_settings: Settings, fake_hub: FakeHub
) -> None:
    before = dict(main_files(fake_hub, "alice/tiny-sentiment"))
    async with hub_client(writer_settings) as c:
        with pytest.raises(
            ToolError, match=r"Not in model alice/tiny-sentiment.*lgoo.png.*Nothing was deleted"
        ):
            await c.call_tool(
                "hub_write",
                {
                    "op": "delete",
                    "repo_id": "alice/tiny-sentiment",
                    "paths": ["README.md", "lgoo.png"],
                },
            )
    assert main_files(fake_hub, "alice/tiny-sentiment") == before
    assert not any(p.endswith("/commit/main") for p in posts(fake_hub))


async def test_read_only_server_offers_no_write_tool(anon_settings: Settings) -> None:
    async with hub_client(anon_settings, read_only=True) as c:
        names = {tool.name for tool in await c.list_tools()}
    assert names == {"hub_search", "hub_repo"}
    async with hub_client(anon_settings) as c:
        tools = {tool.name: tool for tool in await c.list_tools()}
    write = tools["hub_write"].annotations  # delete is one of its operations
    assert write is not None and write.destructive_hint is True and write.read_only_hint is False
