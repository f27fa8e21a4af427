"""MCP connections: the bundled mlintern server in-process, plus the servers in the config.

Every server gets its own fastmcp ``Client`` and transport, so an HTTP server's headers (its
bearer token) travel on that server's connection only, and a stdio server starts with the
non-secret part of our environment plus the ``env`` its own config entry names. Tools are
published to the model as ``<prefix><tool>``: the bundled server has no prefix (its tools are
the catalogue's names, ``plan_update``), every other server ``<name>__`` unless configured.
A tool's declared role (``_meta``, server/tool_roles.py) is how the loop finds e.g. the plan.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.errors import UserError
from server.tool_roles import ToolRole, role_of

if TYPE_CHECKING:
    from fastmcp import Client, FastMCP

    from agent.config import AgentConfig, ServerConfig
    from server.settings import Settings

log = logging.getLogger(__name__)

BUNDLED = "mlintern"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class ToolSpec:
    name: str  # what the model calls
    server: str
    remote_name: str  # what the server calls it
    description: str
    parameters: dict[str, Any]
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    role: str | None = None  # what it declares it does (server/tool_roles.py), e.g. plan.get

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters or {"type": "object", "properties": {}},
            },
        }


@dataclass
class ToolFilter:
    """Which of a server's tools the model gets (glob patterns on the server's own names)."""

    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    read_only: bool = False  # only tools annotated read-only (a research sub-agent)

    def admits(self, name: str, read_only: bool) -> bool:
        from agent.approvals import matches

        if self.include and not matches(name, self.include):
            return False
        return not matches(name, self.exclude) and (read_only or not self.read_only)


@dataclass
class ToolOutcome:
    text: str
    is_error: bool
    structured: Any = None


class MCPConnections:
    """Open with ``async with MCPConnections() as tools`` then ``await tools.add_*``."""

    def __init__(self) -> None:
        self.tools: dict[str, ToolSpec] = {}
        self.instructions: dict[str, str] = {}
        self._clients: dict[str, Client] = {}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> MCPConnections:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stack.aclose()

    # --- connecting ---------------------------------------------------------------------
    async def add_in_process(
        self,
        name: str,
        server: FastMCP,
        prefix: str = "",
        tool_filter: ToolFilter | None = None,
    ) -> None:
        """A FastMCP server object living in this process (the bundled server, test servers)."""
        from fastmcp import Client

        client = Client(server, name=f"mlintern-agent/{name}", client_info=_client_info())
        await self._add(name, client, prefix, tool_filter or ToolFilter())

    async def add_configured(self, name: str, config: ServerConfig) -> None:
        from fastmcp import Client

        client = Client(
            _transport(config),
            name=f"mlintern-agent/{name}",
            timeout=config.timeout_s,
            client_info=_client_info(),
        )
        prefix = config.prefix if config.prefix is not None else f"{_safe(name)}__"
        tool_filter = ToolFilter(config.include_tools, config.exclude_tools)
        await self._add(name, client, prefix, tool_filter, config)

    async def _add(
        self,
        name: str,
        client: Client,
        prefix: str,
        tool_filter: ToolFilter,
        config: ServerConfig | None = None,
    ) -> None:
        if name in self._clients:
            raise UserError(f"Two MCP servers are named {name!r}; rename one in mcpServers.")
        try:
            await self._stack.enter_async_context(client)
            listed = await client.list_tools()
        except Exception as exc:
            where = _describe(config) if config else "in-process"
            raise UserError(
                f"Could not connect to MCP server {name!r} ({where}): {exc}. Check "
                f'mcpServers.{name} in the agent config, or set "enabled": false there.'
            ) from exc
        self._clients[name] = client
        if client.instructions:
            self.instructions[name] = client.instructions
        for tool in listed:
            if app_only(tool):
                continue  # an MCP Apps view's own tool: for the view, never the model
            if not tool_filter.admits(
                tool.name, bool(tool.annotations and tool.annotations.read_only_hint)
            ):
                continue
            public = _safe(prefix + tool.name)[:64]
            if public in self.tools:
                other = self.tools[public].server
                raise UserError(
                    f"Tool name {public!r} is offered by both {other!r} and {name!r}; give one "
                    f'of them a "prefix" in mcpServers.'
                )
            hints = tool.annotations
            # MCP's defaults for a tool without annotations: may write, destructive, open world.
            read_only = bool(hints and hints.read_only_hint)
            self.tools[public] = ToolSpec(
                name=public,
                server=name,
                remote_name=tool.name,
                description=(tool.description or tool.title or tool.name).strip(),
                parameters=dict(tool.input_schema or {}),
                read_only=read_only,
                destructive=not read_only
                and (hints is None or hints.destructive_hint is not False),
                idempotent=bool(hints and hints.idempotent_hint),
                open_world=hints is None or hints.open_world_hint is not False,
                role=role_of(tool.meta),
            )

    # --- using --------------------------------------------------------------------------
    def schemas(self) -> list[dict[str, Any]]:
        return [spec.schema() for spec in self.tools.values()]

    def with_role(self, role: ToolRole) -> list[ToolSpec]:
        """The tools (of any server) that declare ``role``, in the order they were listed."""
        return [spec for spec in self.tools.values() if spec.role == role]

    async def call(self, name: str, arguments: dict[str, Any], progress: Any = None) -> ToolOutcome:
        spec = self.tools.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(self.tools), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            return ToolOutcome(
                f"Unknown tool {name!r}.{hint} Use one of the tools you were given.", True
            )
        client = self._clients[spec.server]
        try:
            result = await client.call_tool_mcp(
                spec.remote_name, arguments, progress_handler=progress
            )
        except Exception as exc:
            # The connection or the protocol failed, not the tool: the model can still go on.
            log.warning("MCP call %s on %s failed", spec.remote_name, spec.server, exc_info=True)
            return ToolOutcome(
                f"Calling {name} failed at the MCP level ({exc.__class__.__name__}: {exc}). The "
                "server may have stopped; try another approach.",
                True,
            )
        return ToolOutcome(_render(result), bool(result.is_error), result.structured_content)


def _render(result: Any) -> str:
    parts: list[str] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            saved = _saved_path(result.structured_content or {})
            parts.append(
                f"[{kind} saved to {saved}]"  # a terminal user can open the file
                if isinstance(saved, str) and saved
                else f"[{kind} content, {block.mime_type}, {len(block.data)} base64 chars]"
            )
        elif kind == "resource":
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[link {block.uri}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, indent=1))
    return "\n".join(parts) or "(no output)"


def _saved_path(structured: dict[str, Any]) -> Any:
    """Where a tool says it saved its image: a top-level ``path``, or one a level down
    (experiments_metrics(plot=true) puts the chart's under ``plot``)."""
    if "path" in structured:
        return structured["path"]
    nested = (v.get("path") for v in structured.values() if isinstance(v, dict))
    return next((p for p in nested if isinstance(p, str) and p), None)


def _transport(config: ServerConfig) -> Any:
    from fastmcp.client.transports import SSETransport, StdioTransport, StreamableHttpTransport

    from server.child_env import child_environment

    if config.command:
        # An allow-listed environment: credentials reach it only if its own entry names them.
        env = child_environment(config.env)
        return StdioTransport(
            config.command, config.args, env=env, cwd=config.cwd, keep_alive=False
        )
    assert config.url is not None
    if config.transport == "sse" or (
        config.transport is None and config.url.rstrip("/").endswith("/sse")
    ):
        return SSETransport(config.url, headers=config.headers)
    return StreamableHttpTransport(config.url, headers=config.headers)


def _describe(config: ServerConfig) -> str:
    if config.command:
        return f"stdio: {config.command} {' '.join(config.args)}".strip()
    return f"http: {config.url}"


def app_only(tool: Any) -> bool:
    """MCP Apps: a tool whose `_meta.ui.visibility` leaves out "model" is for views alone."""
    ui = (tool.meta or {}).get("ui")
    audience = ui.get("visibility") if isinstance(ui, dict) else None
    return isinstance(audience, list) and "model" not in audience


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)


async def open_connections(
    config: AgentConfig,
    settings: Settings,
    *,
    bundled: FastMCP | None = None,
    extra: dict[str, FastMCP] | None = None,
) -> MCPConnections:
    """Connect everything the config names; the caller closes the result (``aclose``)."""
    connections = MCPConnections()
    try:
        if config.bundled.enabled:
            if bundled is None:
                from server.app import build_server

                overrides: dict[str, Any] = {
                    "read_only": config.bundled.read_only or settings.read_only
                }
                if config.bundled.toolsets is not None:
                    overrides["toolsets"] = config.bundled.toolsets
                bundled = build_server(settings.model_copy(update=overrides))
            # Filtering here (not only in build_server) also narrows a server object passed in.
            tool_filter = ToolFilter(
                config.bundled.include_tools, config.bundled.exclude_tools, config.bundled.read_only
            )
            await connections.add_in_process(BUNDLED, bundled, config.bundled.prefix, tool_filter)
        for name, server_config in config.mcp_servers.items():
            if server_config.enabled:
                await connections.add_configured(name, server_config)
        for name, server in (extra or {}).items():
            await connections.add_in_process(name, server, f"{_safe(name)}__")
    except BaseException:
        await connections.aclose()
        raise
    return connections


def _client_info() -> Any:
    """How the agent introduces itself to every server it connects to (their logs show it)."""
    from mcp.types import Implementation

    from server.app import package_version

    return Implementation(name="mlintern-agent", version=package_version())
