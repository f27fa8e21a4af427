"""What an in-server agent run is built from: its config and the tools it may use.

The agent works over a second FastMCP server built from the same settings, state store and
toolkits as this one, minus the tasks toolkit itself (no run_ml_task inside run_ml_task), plus
the extra MCP servers of the operator's agent config. Building it imports the toolkits but not
the agent; the agent itself is imported only when a run starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.errors import UserError
from server.toolkit import ToolkitContext

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from agent.config import AgentConfig

TASKS_TOOLSET = "tasks"
RESEARCH_TOOLSETS = ("papers", "docs", "hub", "datasets", "github")


def load_run_config(
    ctx: ToolkitContext,
    *,
    model: str | None = None,
    max_iterations: int | None = None,
    budget_usd: float | None = None,
) -> AgentConfig:
    """The operator's agent config (MLINTERN_AGENT_CONFIG, or the user file) with this run's
    overrides; the model falls back to MLINTERN_AGENT_MODEL."""
    from agent.config import load_config

    overrides: dict[str, Any] = {"model": model, "budget_usd": budget_usd}
    if max_iterations is not None:
        overrides["limits"] = {"max_iterations": max_iterations}
    config = load_config(ctx.settings.agent_config, overrides)
    if config.model is None:
        config.model = ctx.settings.agent_model
    return config


def yolo_allowed(ctx: ToolkitContext, config: AgentConfig) -> bool:
    """Running without approvals is the operator's call, never the calling model's."""
    return ctx.settings.tasks_allow_yolo or config.approvals.mode == "yolo"


def delegable_toolsets(ctx: ToolkitContext) -> list[str]:
    from server.app import select_toolsets

    return [name for name in select_toolsets(ctx.settings.toolsets) if name != TASKS_TOOLSET]


def choose_toolsets(
    ctx: ToolkitContext, requested: list[str] | None, config: AgentConfig
) -> list[str]:
    """The call's toolsets, within what this server mounts and the operator's agent config
    (bundled.toolsets) allows."""
    available = delegable_toolsets(ctx)
    if config.bundled.toolsets is not None:
        available = [name for name in available if name in config.bundled.toolsets]
    if not requested:
        return available
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise UserError(
            f"toolsets {', '.join(unknown)} are not available to delegated runs on this server. "
            f"Choose from: {', '.join(available) or 'none'} (or omit toolsets for all of them)."
        )
    return [name for name in available if name in requested]


def inner_server(ctx: ToolkitContext, toolsets: list[str], read_only: bool = False) -> FastMCP:
    """This server's toolkits ``toolsets`` as a server of their own, sharing the state store."""
    from server.app import build_server

    settings = ctx.settings.model_copy(
        update={"toolsets": toolsets, "read_only": ctx.read_only or read_only}
    )
    inner = ToolkitContext(settings=settings, read_only=settings.read_only, _store=ctx.store)
    return build_server(settings, inner)


def research_toolsets(ctx: ToolkitContext) -> list[str]:
    chosen = [name for name in delegable_toolsets(ctx) if name in RESEARCH_TOOLSETS]
    if not chosen:
        raise UserError(
            "research needs at least one of the toolkits "
            f"{', '.join(RESEARCH_TOOLSETS)}, and this server mounts none of them. Start it "
            "with e.g. --toolsets papers,docs,hub,datasets,github,tasks."
        )
    return chosen
