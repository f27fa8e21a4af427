"""MCP layer of the plan toolkit: schemas, annotations, rendering."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext
from toolkits.plan import core
from toolkits.plan.core import Todo

INSTRUCTIONS = "Keep a visible todo plan for multi-step work (plan_update, plan_get)."

PlanId = Annotated[str, Field(min_length=1, max_length=64)]


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("plan", ctx, INSTRUCTIONS)

    @toolkit.tool(
        name="update",
        title="Replace the plan",
        read_only=False,
        destructive=False,
        idempotent=True,
        open_world=False,
        role="plan.update",
    )
    def update(
        todos: Annotated[list[Todo], Field(max_length=100)],
        plan_id: PlanId = "default",
    ) -> core.Plan:
        """Replace the plan with this whole todo list (every item, not a diff) and show it.
        Keep one item in_progress while working, mark items completed as soon as they are
        done, add items you discover. Keep several plans apart with plan_id."""
        return core.update_plan(ctx.store, plan_id, todos)

    @toolkit.tool(
        name="get",
        title="Show the plan",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,
        role="plan.get",
    )
    def get(plan_id: PlanId = "default") -> core.Plan:
        """The plan, with each todo's status and the counts per status."""
        return core.get_plan(ctx.store, plan_id)

    return toolkit.mcp
