"""The fastmcp hooks server/lazy_toolkit.py relies on, pinned.

LazyToolkit is a plain ``Provider`` that implements the hooks fastmcp documents for custom
providers and delegates, once built, to the ``FastMCPProvider`` that ``mount`` would create. A
fastmcp release that renames a hook, changes its parameters, stops routing the public API
through it, or starts treating mounted providers differently (reaching into them at start-up)
would break lazy toolkits silently; these tests make that loud.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fastmcp.server.providers import Provider
from fastmcp.server.providers.fastmcp_provider import FastMCPProvider
from fastmcp.server.providers.wrapped_provider import _WrappedProvider

from server.app import build_server
from server.http import build_http_app
from server.lazy_toolkit import LazyToolkit
from server.settings import Settings

# Each Provider hook LazyToolkit implements, with the parameters fastmcp calls it with.
HOOKS = {
    "_list_tools": ["self"],
    "_get_tool": ["self", "name", "version"],
    "_get_tool_by_hash": ["self", "tool_hash", "tool_name"],
    "_list_resources": ["self"],
    "_get_resource": ["self", "uri", "version"],
    "_list_resource_templates": ["self"],
    "_get_resource_template": ["self", "uri", "version"],
    "_list_prompts": ["self"],
    "_get_prompt": ["self", "name", "version"],
    "_extension_runtime": ["self", "available", "root"],
}
# The public methods of the built FastMCPProvider it delegates to.
DELEGATED = [
    "list_tools",
    "get_tool",
    "get_app_tool",
    "list_resources",
    "get_resource",
    "list_resource_templates",
    "get_resource_template",
    "list_prompts",
    "get_prompt",
    "get_tasks",
    "required_extensions",
]


@pytest.mark.parametrize(("name", "parameters"), HOOKS.items())
def test_the_provider_hooks_still_exist_with_these_parameters(
    name: str, parameters: list[str]
) -> None:
    for upstream in (Provider, FastMCPProvider):
        hook = getattr(upstream, name, None)
        assert hook is not None, f"fastmcp removed {upstream.__name__}.{name}: revisit LazyToolkit"
        assert list(inspect.signature(hook).parameters) == parameters, upstream
    assert name in vars(LazyToolkit), f"LazyToolkit no longer implements {name}"
    assert list(inspect.signature(getattr(LazyToolkit, name)).parameters) == parameters


@pytest.mark.parametrize("name", DELEGATED)
def test_the_delegated_public_methods_exist(name: str) -> None:
    assert callable(getattr(FastMCPProvider, name, None)), f"FastMCPProvider.{name} is gone"


async def test_the_public_api_goes_through_the_hooks() -> None:
    class Probe(Provider):
        async def _list_tools(self) -> Sequence[Any]:
            return ["listed"]

        async def _get_tool(self, name: str, version: Any = None) -> Any:
            return f"got {name}"

    probe = Probe()
    assert list(await probe.list_tools()) == ["listed"]
    assert await probe.get_tool("t") == "got t"


def test_building_the_http_app_builds_no_toolkit(tmp_path: Path) -> None:
    # fastmcp collects custom HTTP routes by reaching into every mounted FastMCPProvider's
    # server; a lazy toolkit must not be one, or HTTP start-up builds them all.
    settings = Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]
    server = build_server(settings)
    lazy = []
    for provider in server.providers:
        while isinstance(provider, _WrappedProvider):
            provider = provider._inner
        if isinstance(provider, LazyToolkit):
            lazy.append(provider)
    assert len(lazy) > 1
    build_http_app(server, settings)
    assert [p.toolkit_name for p in lazy if p.built] == []
