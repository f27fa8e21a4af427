"""Toolkits are built on demand, and the cached tool catalog never goes stale."""

from __future__ import annotations

import os
from pathlib import Path

from fastmcp import FastMCP
from helpers import client

from server.app import build_server
from server.lazy_toolkit import LazyToolkit
from server.settings import Settings

PLAN_SOURCE = Path(__file__).resolve().parents[1] / "toolkits" / "plan" / "mcp.py"


def lazy_toolkits(server: FastMCP) -> dict[str, LazyToolkit]:
    found = {}
    for provider in server.providers:
        inner = getattr(provider, "_inner", provider)
        if isinstance(inner, LazyToolkit):
            found[inner.toolkit_name] = inner
    return found


async def test_warm_list_builds_nothing_and_a_call_builds_only_its_toolkit(
    settings: Settings, era: str
) -> None:
    async with client(build_server(settings), era) as c:
        cold_tools = await c.list_tools()  # writes the catalog

    server = build_server(settings)
    toolkits = lazy_toolkits(server)
    assert "plan" in toolkits and len(toolkits) > 1
    async with client(server, era) as c:
        warm_tools = await c.list_tools()
        assert [t.model_dump() for t in warm_tools] == [t.model_dump() for t in cold_tools]
        assert not any(t.built for t in toolkits.values())

        result = await c.call_tool("plan_update", {"todos": [{"id": "1", "content": "lazy"}]})
        assert result.structured_content["todos"][0]["content"] == "lazy"
    assert [name for name, t in toolkits.items() if t.built] == ["plan"]


async def test_a_changed_toolkit_source_invalidates_its_catalog(
    settings: Settings, tmp_path: Path
) -> None:
    async with client(build_server(settings)) as c:
        await c.list_tools()
    source = PLAN_SOURCE
    stat = source.stat()
    try:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        server = build_server(settings)
        async with client(server) as c:
            await c.list_tools()
        built = {name for name, t in lazy_toolkits(server).items() if t.built}
        assert built == {"plan"}, "only the toolkit whose source changed is rebuilt"
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))


async def test_a_corrupt_catalog_is_ignored(settings: Settings) -> None:
    async with client(build_server(settings)) as c:
        expected = {t.name for t in await c.list_tools()}
    (settings.home / "cache" / "tools" / "plan.json").write_text("{not json")
    async with client(build_server(settings)) as c:
        assert {t.name for t in await c.list_tools()} == expected
