"""Mount a toolkit without importing it until one of its tools is called.

Start-up time is a measured goal: importing nine toolkits and generating ~50 JSON schemas costs
more than fastmcp itself. ``LazyToolkit`` answers tools/list from a catalog cached on disk (the
tool definitions the toolkit produced last time) and builds the real sub-server only when one of
its tools is called. The cache is keyed by everything that shapes the definitions: the
toolkit's source files, the shared toolkit base, package versions and the non-secret settings.
A cold cache simply builds the toolkit, lists it for real and writes the catalog.

Toolkits publish tools only; resources, prompts and background tasks of an unbuilt toolkit are
reported as none.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.providers import Provider
from fastmcp.server.providers.fastmcp_provider import FastMCPProvider
from fastmcp.tools.base import Tool
from pydantic import SecretStr

from server.settings import Settings

log = logging.getLogger(__name__)

# Files outside a toolkit's package that shape every toolkit's tool definitions.
_SHARED_SOURCES = (
    "toolkit.py",
    "schema_slim.py",
    "output_caps.py",
    "settings.py",
    "lazy_toolkit.py",
)


def _versions() -> str:
    parts = []
    for package in ("mlintern", "fastmcp", "mcp", "pydantic"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=?")
    return ";".join(parts)


def _source_fingerprint(module: str) -> str:
    """A content hash of every .py file of the toolkit package and of the shared base.

    Contents, not modification times: a checkout, copy or touch that keeps the code keeps the
    catalog, and an edit that keeps size and mtime (a restored backup) still invalidates it.
    """
    spec = importlib.util.find_spec(module)
    roots: list[Path] = []
    if spec and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    elif spec and spec.origin:
        roots.append(Path(spec.origin))
    files = [p for root in roots for p in (sorted(root.rglob("*.py")) if root.is_dir() else [root])]
    here = Path(__file__).parent
    files += [here / name for name in _SHARED_SOURCES]
    # Helpers shared between toolkits (toolkits/_hf/, _remote.py) may shape schemas too.
    files += sorted((here.parent / "toolkits").glob("_*.py"))
    files += sorted((here.parent / "toolkits").glob("_*/*.py"))
    digest = hashlib.sha256()
    for path in files:
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            digest.update(f"{path.name}:{len(data)}:".encode())
            digest.update(data)
    return digest.hexdigest()


def catalog_key(module: str, settings: Settings, read_only: bool) -> str:
    # toolsets only chooses which toolkits are mounted, never what one of them publishes;
    # keeping it out lets a delegated run with other toolsets share the catalog.
    public = {
        k: str(v)
        for k, v in settings.__dict__.items()
        if k != "toolsets" and not isinstance(v, SecretStr | None)
    }
    material = "\n".join(
        [
            module,
            f"read_only={read_only}",
            _versions(),
            json.dumps(public, sort_keys=True),
            _source_fingerprint(module),
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


class ToolCatalog:
    """Tool definitions of one toolkit, cached as JSON under MLINTERN_HOME/cache/tools/."""

    def __init__(self, path: Path, key: str):
        self.path = path
        self.key = key

    def load(self) -> list[Tool] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("key") != self.key:
            return None
        try:
            return [Tool.model_validate(tool) for tool in data["tools"]]
        except (KeyError, ValueError):
            log.warning("ignoring unreadable tool catalog %s", self.path)
            return None

    def save(self, tools: Sequence[Tool]) -> None:
        payload = {
            "key": self.key,
            "tools": [
                tool.model_dump(
                    mode="json",
                    include={"name", "title", "description", "parameters", "output_schema"}
                    | {"annotations", "tags", "meta", "version", "icons", "timeout"},
                )
                for tool in tools
            ],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a concurrent reader sees the old catalog or the new one, never half.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".catalog-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(tmp, self.path)


class LazyToolkit(Provider):
    """A provider that builds its toolkit's sub-server on first real use.

    It implements the hooks fastmcp documents for custom providers (``_list_tools``,
    ``_get_tool``, ...) and, once built, delegates each to the public methods of the
    ``FastMCPProvider`` that ``mount`` would have created. It is deliberately not a
    FastMCPProvider: fastmcp reaches into those (``.server``) when it builds the HTTP app,
    which would build every toolkit at start-up. tests/test_fastmcp_seams.py pins the hooks.
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], FastMCP],
        catalog: ToolCatalog,
        module: str | None = None,
    ):
        super().__init__()
        self.toolkit_name = name
        self.module = module  # whose WARM_IMPORTS warm_in_background imports
        self._factory = factory
        self._inner: FastMCPProvider | None = None
        self._building = threading.Lock()  # a request and the warm-up thread build it once
        self._catalog = catalog
        self._cached: list[Tool] | None = None

    @property
    def built(self) -> bool:
        return self._inner is not None

    @property
    def inner(self) -> FastMCPProvider:
        """The mounted sub-server's provider, building the toolkit the first time."""
        if self._inner is None:
            with self._building:
                if self._inner is None:
                    log.debug("building toolkit %s", self.toolkit_name)
                    self._inner = FastMCPProvider(self._factory())
        return self._inner

    def required_extensions(self) -> Sequence[Any]:
        return () if self._inner is None else self._inner.required_extensions()

    @contextlib.contextmanager
    def _extension_runtime(self, available: frozenset[str], *, root: Any) -> Iterator[None]:
        # A composite provider forwards this scope to its child (Provider's docs).
        if self._inner is None:
            yield
        else:
            with self._inner._extension_runtime(available, root=root):
                yield

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        # Toolkit sub-servers have no lifespan of their own; entering it would force a build.
        yield

    async def get_tasks(self) -> Sequence[Any]:
        return [] if self._inner is None else await self._inner.get_tasks()

    # Listing never builds: an unbuilt toolkit lists its cached tools and nothing else.
    async def _list_tools(self) -> Sequence[Tool]:
        if self._inner is None:
            cached = self._cached_tools()
            if cached is not None:
                return cached
        tools = await self.inner.list_tools()
        try:
            self._catalog.save(await self.inner.server.list_tools())
        except OSError as exc:  # a read-only home only costs start-up time
            log.warning("could not cache the %s tool catalog: %s", self.toolkit_name, exc)
        return tools

    async def _list_resources(self) -> Sequence[Any]:
        return [] if self._inner is None else await self._inner.list_resources()

    async def _list_resource_templates(self) -> Sequence[Any]:
        return [] if self._inner is None else await self._inner.list_resource_templates()

    async def _list_prompts(self) -> Sequence[Any]:
        return [] if self._inner is None else await self._inner.list_prompts()

    # Getting one builds, except a tool name the catalog says is not ours.
    async def _get_tool(self, name: str, version: Any = None) -> Tool | None:
        # Un-namespaced toolkits are asked about every tool name: answer "not mine" from the
        # catalog instead of building the toolkit to find out.
        if self._inner is None:
            cached = self._cached_tools()
            if cached is not None and name not in {tool.name for tool in cached}:
                return None
        return await self.inner.get_tool(name, version)

    async def get_app_tool(self, app_name: str, tool_name: str) -> Tool | None:
        return await self.inner.get_app_tool(app_name, tool_name)

    async def _get_tool_by_hash(self, tool_hash: str, tool_name: str) -> Tool | None:
        return await self.inner._get_tool_by_hash(tool_hash, tool_name)

    async def _get_resource(self, uri: str, version: Any = None) -> Any:
        return await self.inner.get_resource(uri, version)

    async def _get_resource_template(self, uri: str, version: Any = None) -> Any:
        return await self.inner.get_resource_template(uri, version)

    async def _get_prompt(self, name: str, version: Any = None) -> Any:
        return await self.inner.get_prompt(name, version)

    def _cached_tools(self) -> list[Tool] | None:
        if self._cached is None:
            self._cached = self._catalog.load()
        return self._cached


def lazy_toolkit(
    name: str, module: str, build: Callable[[], FastMCP], settings: Settings, read_only: bool
) -> LazyToolkit:
    path = settings.home / "cache" / "tools" / f"{name}.json"
    catalog = ToolCatalog(path, catalog_key(module, settings, read_only))
    return LazyToolkit(name, build, catalog, module)


def import_and_build(module: str, ctx: Any) -> Callable[[], FastMCP]:
    def build() -> FastMCP:
        return importlib.import_module(module).build(ctx)

    return build


_MOUNTED: weakref.WeakKeyDictionary[Any, list[LazyToolkit]] = weakref.WeakKeyDictionary()


def remember(server: Any, provider: LazyToolkit) -> None:
    """Note that ``provider`` is mounted on ``server`` (for ``warm_in_background``)."""
    _MOUNTED.setdefault(server, []).append(provider)


def warm_in_background(server: Any) -> threading.Thread:
    """Build ``server``'s toolkits in a thread, for a long-lived HTTP server: it starts at once
    and answers tools/list from the catalogs, but a first call would otherwise build its
    toolkit on the event loop, holding every other connection (SSE streams too) meanwhile.

    Then import what each toolkit package names in ``WARM_IMPORTS``: heavy modules its tools
    import lazily (numpy, pyarrow), which a first call would otherwise wait on.
    """

    def build_all() -> None:
        providers = _MOUNTED.get(server, [])
        for provider in providers:
            try:
                provider.inner  # noqa: B018 - the property builds
            except Exception:  # a broken toolkit is reported by its first call, not here
                log.warning("warming toolkit %s failed", provider.toolkit_name, exc_info=True)
        for provider in providers:
            package = sys.modules.get(provider.module or "")
            for name in getattr(package, "WARM_IMPORTS", ()):
                try:
                    importlib.import_module(name)
                except Exception:  # an optional extra not installed: its tools will say so
                    log.debug("warm import of %s failed", name, exc_info=True)

    thread = threading.Thread(target=build_all, name="mlintern-warm-toolkits", daemon=True)
    thread.start()
    return thread
