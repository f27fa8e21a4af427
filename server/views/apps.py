"""MCP Apps (io.modelcontextprotocol/ui): the experiment, job and approval views.

Three ``ui://`` resources hold the views' HTML; the tools a person would want to look at
(experiments_metrics, jobs_status, ml_task, ...) name them in ``_meta.ui.resourceUri``,
added as tools are listed so no toolkit changes. A view asks for its model through the host
with the app-only tools ``views_*``; hosts without the extension ignore all of it and keep the
tools' text and structured results.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastmcp import FastMCP
from fastmcp.apps import UI_MIME_TYPE, AppConfig, app_config_to_meta_dict
from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from server import schema_slim
from server.errors import UserError
from server.views import models
from server.views.calls import in_process
from server.views.page import VIEW_KINDS, ViewKind, app_html

if TYPE_CHECKING:
    from server.toolkit import ToolkitContext


def view_uri(kind: ViewKind) -> str:
    return f"ui://mlintern/{kind}.html"


# Which view shows each tool's result. The view reads the id it needs (job_id, source, run_id)
# from the result or the arguments.
VIEW_OF_TOOL: dict[str, ViewKind] = {
    "experiments_metrics": "experiment",
    "experiments_check": "experiment",
    "experiments_restart": "experiment",
    "jobs_submit": "job",
    "jobs_status": "job",
    "jobs_logs": "job",
    "ml_task": "approval",
    "run_ml_task": "approval",
}
NEEDS_TOOL: dict[ViewKind, str] = {
    "experiment": "experiments_metrics",
    "job": "jobs_status",
    "approval": "ml_task",
}


class ViewModel(BaseModel):
    view: ViewKind
    model: dict[str, Any] = Field(description="What the view renders (see server/views).")


class LinkViews(Middleware):
    """Point each tool with a view at its ui:// resource as tools are listed."""

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Sequence[Tool]]
    ) -> Sequence[Tool]:
        tools = await call_next(context)
        return [_linked(tool) for tool in tools]


def _linked(tool: Tool) -> Tool:
    kind = VIEW_OF_TOOL.get(tool.name)
    if kind is None:
        return tool
    meta = dict(tool.meta or {})
    meta["ui"] = {**meta.get("ui", {}), "resourceUri": view_uri(kind)}
    return tool.model_copy(update={"meta": meta})


Id = Annotated[str, Field(min_length=1, max_length=1000)]
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def attach_views(server: FastMCP, ctx: ToolkitContext, toolsets: Sequence[str]) -> None:
    """Register the views whose toolkits are served."""
    call = in_process(server)
    served: dict[ViewKind, bool] = {
        "experiment": "experiments" in toolsets and "jobs" in toolsets,
        "job": "jobs" in toolsets,
        "approval": "tasks" in toolsets,
    }
    kinds: list[ViewKind] = [kind for kind in VIEW_KINDS if served[kind]]
    if not kinds:
        return
    server.add_middleware(LinkViews())
    for kind in kinds:
        _register_resource(server, kind)

    async def views_experiment(
        source: Id,
        tags: Annotated[
            list[Annotated[str, Field(max_length=200)]] | None, Field(max_length=20)
        ] = None,
        preferences: Annotated[str | None, Field(max_length=100_000)] = None,
    ) -> ViewModel:
        """App-only: what the experiment view renders (a run's curves, verdict)."""
        model = models.experiment_model(call, source, tags, preferences, ctx.store)
        return ViewModel(view="experiment", model=await _as_tool_error(model))

    async def views_job(job_id: Annotated[str, Field(min_length=1, max_length=64)]) -> ViewModel:
        """App-only: what the job view renders (status, health, log tail)."""
        return ViewModel(view="job", model=await _as_tool_error(models.job_model(call, job_id)))

    async def views_approval(
        run_id: Annotated[str, Field(min_length=1, max_length=64)],
    ) -> ViewModel:
        """App-only: what the approval view renders (pending calls, timeline)."""
        model = models.approval_model(call, run_id)
        return ViewModel(view="approval", model=await _as_tool_error(model))

    builders = {"experiment": views_experiment, "job": views_job, "approval": views_approval}
    # Mounted after the toolkits so these list last, after every tool a model uses.
    tools = FastMCP("views", mask_error_details=True)
    for kind in kinds:
        ui = AppConfig(resource_uri=view_uri(kind), visibility=["app"])
        tool = Tool.from_function(
            builders[kind],
            name=f"views_{kind}",
            title=f"{kind.capitalize()} view model",
            annotations=READ_ONLY,
            meta={"ui": app_config_to_meta_dict(ui)},
        )
        tool.parameters = schema_slim.slim_schema(
            tool.parameters
        )  # hosts without the extension list it
        tools.add_tool(tool)
    server.mount(tools)


async def _as_tool_error(model: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    try:
        return await model
    except UserError as exc:  # what the view shows the person: the tool's own message
        raise ToolError(str(exc)) from None


def _register_resource(server: FastMCP, kind: ViewKind) -> None:
    @server.resource(
        view_uri(kind),
        name=f"mlintern-{kind}-view",
        description=f"The {kind} view (MCP Apps); self-contained HTML.",
        mime_type=UI_MIME_TYPE,
        app=AppConfig(prefers_border=True),
    )
    def html() -> str:
        return app_html(kind)
