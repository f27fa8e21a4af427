"""Toolkits are built on demand, and the cached tool catalog never goes stale."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from fastmcp import FastMCP
from helpers import client

from server.app import build_server
from server.lazy_toolkit import LazyToolkit
from server.registry import TOOLKITS
from server.settings import Settings

PLAN_PACKAGE = Path(__file__).resolve().parents[1] / "toolkits" / "plan"


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


@pytest.fixture
def plan_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plan toolkit copied to an importable package of its own, mounted as "plan".

    Tests edit the copy, never a tracked source file of the checkout.
    """
    package = tmp_path / "src" / "plan_copy"
    shutil.copytree(PLAN_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text("from plan_copy.mcp import build\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.setitem(TOOLKITS, "plan", replace(TOOLKITS["plan"], module="plan_copy"))
    return package


async def test_a_changed_toolkit_source_invalidates_its_catalog(
    settings: Settings, plan_copy: Path
) -> None:
    async with client(build_server(settings)) as c:
        await c.list_tools()
    source = plan_copy / "mcp.py"
    source.write_text(source.read_text() + "\n# an edit\n")
    server = build_server(settings)
    async with client(server) as c:
        await c.list_tools()
    built = {name for name, t in lazy_toolkits(server).items() if t.built}
    assert built == {"plan"}, "only the toolkit whose source changed is rebuilt"


async def test_a_touched_but_unchanged_source_keeps_the_catalog(
    settings: Settings, plan_copy: Path
) -> None:
    async with client(build_server(settings)) as c:
        await c.list_tools()
    source = plan_copy / "mcp.py"
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    server = build_server(settings)
    async with client(server) as c:
        await c.list_tools()
    assert not any(t.built for t in lazy_toolkits(server).values())


async def test_a_corrupt_catalog_is_ignored(settings: Settings) -> None:
    async with client(build_server(settings)) as c:
        expected = {t.name for t in await c.list_tools()}
    (settings.home / "cache" / "tools" / "plan.json").write_text("{not json")
    async with client(build_server(settings)) as c:
        assert {t.name for t in await c.list_tools()} == expected


def test_an_http_server_builds_its_toolkits_off_the_event_loop(tmp_path) -> None:
    """warm_in_background builds every mounted toolkit in a thread, once each, even when a
    call builds one at the same time (the lock)."""
    import threading

    from server.app import build_server
    from server.lazy_toolkit import _MOUNTED, warm_in_background
    from server.settings import Settings

    server = build_server(Settings(home=tmp_path / "home", toolsets=["plan", "docs"]))
    providers = _MOUNTED[server]
    assert [p.toolkit_name for p in providers] == ["plan", "docs"]
    assert not any(p.built for p in providers)
    racing = threading.Thread(target=lambda: providers[1].inner)
    racing.start()
    warm_in_background(server).join(timeout=120)
    racing.join(timeout=120)
    assert all(p.built for p in providers)
    assert providers[1].inner is providers[1].inner  # built once
