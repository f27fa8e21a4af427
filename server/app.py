"""Builds the mlintern FastMCP server from the toolkit registry."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fastmcp import FastMCP
from mcp.server.request_state import RequestStateSecurity

from server.errors import UserError
from server.lazy_toolkit import import_and_build, lazy_toolkit, remember
from server.registry import TOOLKITS
from server.settings import Settings
from server.toolkit import ToolkitContext

log = logging.getLogger(__name__)

SERVER_NAME = "mlintern"


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlintern")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def select_toolsets(requested: Iterable[str] | None) -> list[str]:
    """The toolkit names to mount, in registry order; unknown names are a clear error."""
    if not requested:
        return list(TOOLKITS)
    wanted = [name.strip() for name in requested if name.strip()]
    unknown = [name for name in wanted if name not in TOOLKITS]
    if unknown:
        raise UserError(
            f"Unknown toolset(s): {', '.join(unknown)}. Available: {', '.join(TOOLKITS)}."
        )
    return [name for name in TOOLKITS if name in wanted]


def instructions_for(names: list[str], read_only: bool) -> str:
    lines = [
        "mlintern gives you the hands of an ML engineer. Tools are grouped by toolkit "
        "(the prefix of each tool name):"
    ]
    lines += [f"- {name}: {TOOLKITS[name].purpose}" for name in names]
    lines.append(
        "Stateful things are named by ids the tools return (sandbox_id, job_id, run_id, "
        "plan_id): keep them and pass them back. Long outputs are cut; follow the hint "
        "(offset=N) to read more."
    )
    if read_only:
        lines.append("This server is read-only: tools that change anything are not available.")
    return "\n".join(lines)


def request_state_security(settings: Settings) -> RequestStateSecurity:
    """Sealing for input-required state: approvals by a person can take longer than the SDK's
    ten-minute default, and replicas sharing a key accept each other's state."""
    if settings.request_state_key is None:
        return RequestStateSecurity.ephemeral(ttl=settings.approval_ttl_s)
    key = settings.request_state_key.get_secret_value()
    return RequestStateSecurity(keys=[key], ttl=settings.approval_ttl_s)


def build_server(
    settings: Settings | None = None, context: ToolkitContext | None = None
) -> FastMCP:
    """Mount every selected toolkit under its namespace.

    A toolkit is imported and built only when one of its tools is called, or when tools/list
    finds no up-to-date cached catalog of its tools (see server/lazy_toolkit.py).
    """
    settings = settings or Settings()
    names = select_toolsets(settings.toolsets)
    ctx = context or ToolkitContext(settings=settings, read_only=settings.read_only)
    server = FastMCP(
        SERVER_NAME,
        request_state_security=request_state_security(settings),
        version=package_version(),
        instructions=instructions_for(names, settings.read_only),
        mask_error_details=True,
    )
    for name in names:
        entry = TOOLKITS[name]
        namespace = name if entry.namespace is None else entry.namespace
        provider = lazy_toolkit(
            name,
            entry.module,
            import_and_build(entry.module, ctx),
            settings,
            ctx.read_only,
        )
        server.add_provider(provider, namespace=namespace)
        remember(server, provider)
    from server.views.apps import attach_views

    attach_views(server, ctx, names)
    log.debug("mounted toolkits: %s", ", ".join(names))
    return server
