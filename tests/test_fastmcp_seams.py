"""The fastmcp internals server/lazy_toolkit.py relies on, pinned.

fastmcp has no public "build this provider on first use" hook, so LazyToolkit overrides a few
private methods of FastMCPProvider. A fastmcp release that renames one, changes its signature,
stops routing the public API through it, or gives FastMCPProvider.__init__ more state to set
would break lazy toolkits silently; these tests make that loud.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import pytest
from fastmcp import FastMCP
from fastmcp.server.providers import Provider
from fastmcp.server.providers.fastmcp_provider import FastMCPProvider

from server.lazy_toolkit import LazyToolkit

# Each private method LazyToolkit overrides, with the parameters fastmcp calls it with.
OVERRIDDEN = {
    "_list_tools": ["self"],
    "_get_tool": ["self", "name", "version"],
    "_list_resources": ["self"],
    "_list_resource_templates": ["self"],
    "_list_prompts": ["self"],
    "_extension_runtime": ["self", "available", "root"],
}


@pytest.mark.parametrize(("name", "parameters"), OVERRIDDEN.items())
def test_the_overridden_private_methods_still_exist_with_these_parameters(
    name: str, parameters: list[str]
) -> None:
    upstream = getattr(FastMCPProvider, name, None)
    assert upstream is not None, f"fastmcp removed FastMCPProvider.{name}: revisit LazyToolkit"
    assert list(inspect.signature(upstream).parameters) == parameters
    assert name in vars(LazyToolkit), f"LazyToolkit no longer overrides {name}"
    assert list(inspect.signature(getattr(LazyToolkit, name)).parameters) == parameters


def test_fastmcp_provider_init_sets_nothing_but_the_server() -> None:
    # LazyToolkit skips FastMCPProvider.__init__ (it would need the built server) and calls
    # Provider.__init__ instead; that is only sound while the former adds nothing else.
    bare = Provider()
    wrapped = FastMCPProvider(FastMCP("x"))
    assert set(vars(wrapped)) - set(vars(bare)) == {"server"}


async def test_the_public_api_goes_through_the_private_methods() -> None:
    class Probe(Provider):
        async def _list_tools(self) -> Sequence[Any]:
            return ["listed"]

        async def _get_tool(self, name: str, version: Any = None) -> Any:
            return f"got {name}"

    probe = Probe()
    assert list(await probe.list_tools()) == ["listed"]
    assert await probe.get_tool("t") == "got t"
