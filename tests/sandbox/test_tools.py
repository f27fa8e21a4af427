"""The seven sandbox tools through the real MCP client, on the local backend."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from helpers import poll_until
from sandbox_kit import data, sandbox_server, text

from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.backends import disk_quota
from toolkits.sandbox.core import workspace_path
from toolkits.sandbox.records import SandboxRecords

TOOLS = {"create", "exec", "files", "list", "destroy"}


async def test_catalog_titles_and_annotations(mcp: Client) -> None:
    tools = {tool.name: tool for tool in await mcp.list_tools()}
    assert set(tools) == {f"sandbox_{name}" for name in TOOLS}
    hints = {
        name: (
            tool.annotations.read_only_hint,
            tool.annotations.destructive_hint,
            tool.annotations.idempotent_hint,
            tool.annotations.open_world_hint,
        )
        for name, tool in tools.items()
        if tool.annotations is not None
    }
    assert hints["sandbox_exec"] == (False, False, False, True)
    assert hints["sandbox_files"] == (False, False, False, False)
    assert hints["sandbox_destroy"][:2] == (False, True)
    for tool in tools.values():
        assert tool.title and tool.description and tool.output_schema
    # Bounded parameters: the schema carries the limits a model must respect.
    exec_schema = tools["sandbox_exec"].input_schema["properties"]
    assert exec_schema["timeout_s"]["maximum"] == 3600
    assert exec_schema["command"]["maxLength"] == 100_000


async def test_read_only_server_keeps_only_reading_tools(settings: Settings) -> None:
    async with Client(sandbox_server(settings, read_only=True)) as c:
        names = {tool.name for tool in await c.list_tools()}
        assert names == {"sandbox_files", "sandbox_list"}
        (files,) = [t for t in await c.list_tools() if t.name == "sandbox_files"]
        assert files.annotations is not None and files.annotations.read_only_hint is True
        with pytest.raises(ToolError, match=r"read-only: op='write' is not available"):
            await c.call_tool("sandbox_files", {"sandbox_id": "sbx-1", "op": "write", "path": "a"})
        # Positive control: reading is still served (and fails only on the unknown sandbox).
        with pytest.raises(ToolError, match="'sbx-1' is not a sandbox id"):
            await c.call_tool("sandbox_files", {"sandbox_id": "sbx-1", "path": "a"})


async def test_create_write_exec_read_edit_destroy(mcp: Client, settings: Settings) -> None:
    created = data(
        await mcp.call_tool("sandbox_create", {"files": {"src/train.py": "print('step', 1)\n"}})
    )
    sandbox_id = created["sandbox_id"]
    assert sandbox_id.startswith("sbx-") and created["backend"] == "local"
    assert created["isolation"] == "bubblewrap" and created["limits"]["network"] is False
    assert created["workspace"].endswith(f"{sandbox_id}/workspace")
    assert workspace_path(settings, sandbox_id).joinpath("src/train.py").is_file()

    ran = data(
        await mcp.call_tool(
            "sandbox_exec", {"sandbox_id": sandbox_id, "command": "python src/train.py"}
        )
    )
    assert ran["exit_code"] == 0 and ran["stdout"]["text"] == "step 1\n" and not ran["killed"]

    written = data(
        await mcp.call_tool(
            "sandbox_files",
            {
                "op": "write",
                "sandbox_id": sandbox_id,
                "path": "cfg/lr.yaml",
                "content": "lr: 0.1\nsteps: 20\n",
            },
        )
    )
    assert written["created"] is True and written["bytes_written"] == len("lr: 0.1\nsteps: 20\n")

    edited = data(
        await mcp.call_tool(
            "sandbox_files",
            {
                "op": "edit",
                "sandbox_id": sandbox_id,
                "path": "cfg/lr.yaml",
                "old": "lr: 0.1",
                "new": "lr: 0.01",
            },
        )
    )
    assert edited["replacements"] == 1 and "lr: 0.01" in edited["snippet"]

    shown = await mcp.call_tool(
        "sandbox_files", {"op": "read", "sandbox_id": sandbox_id, "path": "cfg/lr.yaml"}
    )
    assert data(shown)["total_lines"] == 2
    assert "     1\tlr: 0.01\n     2\tsteps: 20" in text(shown)

    exited = data(
        await mcp.call_tool(
            "sandbox_exec",
            {"sandbox_id": sandbox_id, "command": "cat cfg/lr.yaml; echo oops >&2; exit 3"},
        )
    )
    assert exited["exit_code"] == 3 and exited["stderr"]["text"] == "oops\n"
    assert "lr: 0.01" in exited["stdout"]["text"]

    gone = data(await mcp.call_tool("sandbox_destroy", {"sandbox_id": sandbox_id}))
    assert gone["destroyed"] is True
    assert not workspace_path(settings, sandbox_id).exists()
    again = data(await mcp.call_tool("sandbox_destroy", {"sandbox_id": sandbox_id}))
    assert again["already_destroyed"] is True
    late = await mcp.call_tool(
        "sandbox_exec", {"sandbox_id": sandbox_id, "command": "true"}, raise_on_error=False
    )
    assert late.is_error and "destroyed by sandbox_destroy" in text(late)


async def test_python_language_and_stdin(mcp: Client) -> None:
    sandbox_id = data(await mcp.call_tool("sandbox_create", {}))["sandbox_id"]
    ran = data(
        await mcp.call_tool(
            "sandbox_exec",
            {
                "sandbox_id": sandbox_id,
                "language": "python",
                "command": "import sys\nprint(sys.stdin.read()[::-1], sys.prefix.endswith('.venv'))",
                "stdin": "abc",
            },
        )
    )
    assert ran["stdout"]["text"] == "cba True\n"


async def test_unknown_and_malformed_ids_say_what_to_do(mcp: Client) -> None:
    bad = await mcp.call_tool(
        "sandbox_files", {"op": "read", "sandbox_id": "../etc"}, raise_on_error=False
    )
    assert bad.is_error and "sandbox_list" in text(bad)
    missing = await mcp.call_tool(
        "sandbox_exec", {"sandbox_id": "sbx-000000000000", "command": "true"}, raise_on_error=False
    )
    assert missing.is_error and "sandbox_create" in text(missing)


async def test_edit_refuses_missing_and_ambiguous_text(mcp: Client) -> None:
    sandbox_id = data(
        await mcp.call_tool("sandbox_create", {"files": {"a.py": "x = 1\ny = 2\nx = 1\n"}})
    )["sandbox_id"]
    ambiguous = await mcp.call_tool(
        "sandbox_files",
        {"op": "edit", "sandbox_id": sandbox_id, "path": "a.py", "old": "x = 1", "new": "x = 3"},
        raise_on_error=False,
    )
    assert ambiguous.is_error and "2 times" in text(ambiguous)
    assert "lines 1, 3" in text(ambiguous)
    absent = await mcp.call_tool(
        "sandbox_files",
        {"op": "edit", "sandbox_id": sandbox_id, "path": "a.py", "old": "z = 9", "new": "z = 0"},
        raise_on_error=False,
    )
    assert absent.is_error and "not found" in text(absent)
    unchanged = await mcp.call_tool(
        "sandbox_files", {"op": "read", "sandbox_id": sandbox_id, "path": "a.py"}
    )
    assert data(unchanged)["total_lines"] == 3 and "x = 3" not in text(unchanged)
    every = data(
        await mcp.call_tool(
            "sandbox_files",
            {
                "op": "edit",
                "sandbox_id": sandbox_id,
                "path": "a.py",
                "old": "x = 1",
                "new": "x = 3",
                "replace_all": True,
            },
        )
    )
    assert every["replacements"] == 2


async def test_long_output_is_capped_and_saved_for_paging(settings: Settings) -> None:
    async with Client(sandbox_server(settings)) as mcp:
        sandbox_id = data(await mcp.call_tool("sandbox_create", {}))["sandbox_id"]
        ran = data(
            await mcp.call_tool(
                "sandbox_exec",
                {"sandbox_id": sandbox_id, "command": "seq 1 200000"},
            )
        )
        stdout = ran["stdout"]
        assert stdout["truncated"] and stdout["total_bytes"] == len(
            "".join(f"{n}\n" for n in range(1, 200001))
        )
        assert len(stdout["text"]) <= settings.max_output_chars
        assert stdout["text"].startswith("1\n2\n3\n") and stdout["text"].endswith(
            "199999\n200000\n"
        )
        assert ran["hint"] and stdout["saved_to"] in ran["hint"]
        page = data(
            await mcp.call_tool(
                "sandbox_files",
                {
                    "op": "read",
                    "sandbox_id": sandbox_id,
                    "path": stdout["saved_to"],
                    "offset": stdout["tail_start_line"],
                    "limit": 2,
                },
            )
        )
        first_tail_line = stdout["text"].split("] …\n", 1)[1].split("\n", 1)[0]
        assert page["text"].split("\n")[0] == f"{stdout['tail_start_line']:>6}\t{first_tail_line}"
        assert page["next_offset"] == stdout["tail_start_line"] + 2


async def test_progress_is_reported_and_the_loop_stays_free(settings: Settings) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with Client(sandbox_server(settings), progress_handler=on_progress) as mcp:
        sandbox_id = data(await mcp.call_tool("sandbox_create", {}))["sandbox_id"]
        # The command runs until the test has seen two progress reports (however slow the
        # machine), then lets it finish by writing a file through another tool call.
        wait = "echo started; while [ ! -e go ]; do sleep 0.1; done; echo done"
        slow = asyncio.create_task(
            mcp.call_tool("sandbox_exec", {"sandbox_id": sandbox_id, "command": wait})
        )
        await poll_until(lambda: len(updates) >= 2, 30, "the exec to report progress twice")
        started = time.monotonic()
        listed = data(await mcp.call_tool("sandbox_list", {}))
        answered_in = time.monotonic() - started
        await mcp.call_tool(
            "sandbox_files", {"op": "write", "sandbox_id": sandbox_id, "path": "go", "content": ""}
        )
        result = data(await slow)
    assert answered_in < 1.0, "a running exec must not hold up other calls"
    assert listed["active_count"] == 1
    assert result["stdout"]["text"] == "started\ndone\n"
    assert [total for _, total, _ in updates] == [120] * len(updates)
    assert "last line: started" in (updates[-1][2] or "")
    assert [progress for progress, _, _ in updates] == sorted(p for p, _, _ in updates)


async def test_sandboxes_survive_a_restart_and_idle_ones_are_reaped(settings: Settings) -> None:
    async with Client(sandbox_server(settings)) as mcp:
        keep = data(await mcp.call_tool("sandbox_create", {"files": {"notes.txt": "kept\n"}}))
        idle = data(await mcp.call_tool("sandbox_create", {"idle_timeout_s": 60}))
    # Simulate an hour without use of the second one, as a stopped server would leave it.
    SandboxRecords(StateStore(settings.state_path)).touch(idle["sandbox_id"], time.time() - 3600)

    async with Client(sandbox_server(settings)) as mcp:  # a fresh server over the same state
        listed = data(await mcp.call_tool("sandbox_list", {}))
        assert [s["sandbox_id"] for s in listed["sandboxes"]] == [keep["sandbox_id"]]
        ran = data(
            await mcp.call_tool(
                "sandbox_exec", {"sandbox_id": keep["sandbox_id"], "command": "cat notes.txt"}
            )
        )
        assert ran["stdout"]["text"] == "kept\n"
        reaped = await mcp.call_tool(
            "sandbox_files", {"op": "read", "sandbox_id": idle["sandbox_id"]}, raise_on_error=False
        )
        assert reaped.is_error and "reaped after 60s idle" in text(reaped)
        history = data(await mcp.call_tool("sandbox_list", {"include_destroyed": True}))
        assert {s["status"] for s in history["sandboxes"]} == {"active", "destroyed"}
    assert not workspace_path(settings, idle["sandbox_id"]).exists()


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("../outside.txt", "contains '..': sandbox paths must stay inside the workspace"),
        ("/etc/passwd", "is outside the sandbox workspace"),
        ("a/../../b", "contains '..': sandbox paths must stay inside the workspace"),
    ],
)
async def test_paths_outside_the_workspace_are_refused(mcp: Client, bad: str, why: str) -> None:
    sandbox_id = data(await mcp.call_tool("sandbox_create", {}))["sandbox_id"]
    result = await mcp.call_tool(
        "sandbox_files",
        {"op": "write", "sandbox_id": sandbox_id, "path": bad, "content": "x"},
        raise_on_error=False,
    )
    assert result.is_error
    assert text(result).startswith(f"{bad!r} {why}"), text(result)


async def test_a_workspace_deleted_behind_our_back_gets_a_clear_error(
    mcp: Client, settings: Settings
) -> None:
    sandbox_id = data(await mcp.call_tool("sandbox_create", {}))["sandbox_id"]
    disk_quota.unmount(workspace_path(settings, sandbox_id))  # its own filesystem, if any
    shutil.rmtree(workspace_path(settings, sandbox_id))
    result = await mcp.call_tool(
        "sandbox_exec", {"sandbox_id": sandbox_id, "command": "true"}, raise_on_error=False
    )
    assert (
        result.is_error and "gone from disk" in text(result) and "sandbox_destroy" in text(result)
    )
    assert data(await mcp.call_tool("sandbox_destroy", {"sandbox_id": sandbox_id}))["destroyed"]
