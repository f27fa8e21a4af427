"""Plan tools through the real MCP client, in both protocol eras."""

from __future__ import annotations

import pytest
from fastmcp.exceptions import ToolError
from helpers import client

from server.app import build_server
from server.settings import Settings
from toolkits.plan import core


async def test_update_then_get_roundtrip(settings: Settings, era: str) -> None:
    server = build_server(settings)
    async with client(server, era) as c:
        todos = [
            {"id": "1", "content": "find a recipe", "status": "completed"},
            {"id": "2", "content": "launch training", "status": "in_progress"},
            {"id": "3", "content": "push to hub"},
        ]
        result = await c.call_tool("plan_update", {"todos": todos})
        assert result.structured_content["version"] == 1
        assert result.structured_content["counts"] == {
            "pending": 1,
            "in_progress": 1,
            "completed": 1,
        }
        text = result.content[0].text
        assert "[x] 1. find a recipe" in text and "[~] 2. launch training" in text
        got = await c.call_tool("plan_get", {})
        assert [t["id"] for t in got.structured_content["todos"]] == ["1", "2", "3"]
        assert got.structured_content["todos"][2]["status"] == "pending"


async def test_update_replaces_and_persists_across_servers(settings: Settings) -> None:
    async with client(build_server(settings)) as c:
        await c.call_tool(
            "plan_update", {"plan_id": "exp-1", "todos": [{"id": "a", "content": "x"}]}
        )
        await c.call_tool(
            "plan_update", {"plan_id": "exp-1", "todos": [{"id": "b", "content": "y"}]}
        )
    # A fresh server over the same state file sees the last plan: nothing lived only in memory.
    async with client(build_server(settings)) as c:
        got = await c.call_tool("plan_get", {"plan_id": "exp-1"})
    assert got.structured_content["version"] == 2
    assert [t["id"] for t in got.structured_content["todos"]] == ["b"]


async def test_bad_status_is_rejected_and_plan_untouched(settings: Settings, era: str) -> None:
    async with client(build_server(settings), era) as c:
        await c.call_tool("plan_update", {"todos": [{"id": "1", "content": "x"}]})
        bad = await c.call_tool(
            "plan_update",
            {"todos": [{"id": "1", "content": "x", "status": "done"}]},
            raise_on_error=False,
        )
        assert bad.is_error
        message = bad.content[0].text
        assert "pending" in message and "in_progress" in message and "completed" in message
        got = await c.call_tool("plan_get", {})
        assert got.structured_content["version"] == 1


async def test_duplicate_ids_rejected(settings: Settings) -> None:
    async with client(build_server(settings)) as c:
        with pytest.raises(ToolError, match="unique; repeated: 1"):
            await c.call_tool(
                "plan_update",
                {"todos": [{"id": "1", "content": "x"}, {"id": "1", "content": "y"}]},
            )


async def test_unknown_plan_says_how_to_create_it(settings: Settings) -> None:
    async with client(build_server(settings)) as c:
        with pytest.raises(ToolError, match=r"plan_update\(plan_id='nope'"):
            await c.call_tool("plan_get", {"plan_id": "nope"})


def test_core_rejects_bad_status_with_clear_message(settings: Settings) -> None:
    from server.errors import UserError
    from server.state import StateStore

    store = StateStore(settings.state_path)
    with pytest.raises(UserError, match="status 'done'; use one of: pending, in_progress"):
        core.update_plan(store, "default", [{"id": "1", "content": "x", "status": "done"}])
