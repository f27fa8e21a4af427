"""The continuation nudge follows the tools that declare a plan role, on any server, by any name.

mlintern's plan toolkit declares ``plan.update`` / ``plan.get`` in its tools' ``_meta``; another
MCP server declaring the same roles under its own names gets the same nudge, and a server whose
tools are merely *named* plan_update / plan_get (no declared role) gets none.
"""

from __future__ import annotations

from typing import Any

from agent_helpers import running_agent
from fakes.llm import ScriptedLLM, call, calls, say
from fastmcp import FastMCP
from mcp.types import ToolAnnotations

from server.settings import Settings
from server.tool_roles import ToolRole, role_meta

# The shared fixtures (scripted LLM, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]

# Local bookkeeping, like the plan toolkit's: runs without an approval.
BOOKKEEPING = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
TODOS = [
    {"content": "fetch the data", "status": "completed"},
    {"content": "write the report", "status": "pending"},
]


def todo_server(roles: dict[str, ToolRole | None], reads: list[dict[str, Any]]) -> FastMCP:
    """A small todo server whose write/read tools carry the given names and declared roles."""
    todo = FastMCP("todo")
    lists: dict[str, list[dict[str, str]]] = {}
    (writer, write_role), (reader, read_role) = roles.items()

    @todo.tool(
        name=writer, annotations=BOOKKEEPING, meta=role_meta(write_role) if write_role else None
    )
    def write(todos: list[dict[str, str]], plan_id: str = "default") -> dict[str, Any]:
        """Replace a todo list."""
        lists[plan_id] = todos
        return {"todos": todos}

    @todo.tool(
        name=reader, annotations=BOOKKEEPING, meta=role_meta(read_role) if read_role else None
    )
    def read(plan_id: str = "default") -> dict[str, Any]:
        """Show a todo list."""
        reads.append({"plan_id": plan_id})
        return {"todos": lists.get(plan_id, [])}

    return todo


def nudges_seen(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if "open item(s)" in str(m.get("content"))]


async def test_a_server_declaring_the_plan_roles_under_its_own_names_gets_the_nudge(
    llm: ScriptedLLM, settings: Settings
) -> None:
    reads: list[dict[str, Any]] = []
    todo = todo_server({"tasks_write": "plan.update", "tasks_read": "plan.get"}, reads)

    def one_nudge(request: dict) -> bool | str:
        nudges = nudges_seen(request)
        return (len(nudges) == 1 and "- [pending] write the report" in nudges[0]) or str(nudges)

    llm.add(
        calls(call("todo__tasks_write", {"plan_id": "q3", "todos": TODOS})),
        say("Done."),
        say("Still blocked on the report.", expect=one_nudge),
    )
    config = {"bundled": {"enabled": False}, "limits": {"max_continuation_nudges": 1}}
    async with running_agent(llm, settings, extra={"todo": todo}, config=config) as (agent, ev):
        assert [s.name for s in agent.tools.with_role("plan.get")] == ["todo__tasks_read"]
        result = await agent.run("fetch and report")
    assert [e.is_error for e in ev.of("tool_output")] == [False]
    assert result.final_text == "Still blocked on the report."
    assert [n.reason for n in ev.of("nudge")] == ["continuation"]
    assert ev.of("nudge")[0].text.count("\n- [") == 1  # only the open item is listed
    # The nudge read the plan the run had written, through the declared getter.
    assert reads == [{"plan_id": "q3"}]


async def test_tools_only_named_like_the_plan_get_no_nudge(
    llm: ScriptedLLM, settings: Settings
) -> None:
    reads: list[dict[str, Any]] = []
    todo = todo_server({"plan_update": None, "plan_get": None}, reads)
    llm.add(calls(call("todo__plan_update", {"todos": TODOS})), say("Done."))
    config = {"bundled": {"enabled": False}}
    async with running_agent(llm, settings, extra={"todo": todo}, config=config) as (agent, ev):
        assert agent.tools.with_role("plan.get") == []
        result = await agent.run("fetch and report")
    assert result.reason == "completed" and result.final_text == "Done."
    assert [e.is_error for e in ev.of("tool_output")] == [False]  # the plan was written
    assert ev.of("nudge") == [] and reads == []


async def test_the_bundled_toolkits_declare_their_roles(
    llm: ScriptedLLM, settings: Settings
) -> None:
    async with running_agent(llm, settings) as (agent, _):
        assert [s.name for s in agent.tools.with_role("plan.update")] == ["plan_update"]
        assert [s.name for s in agent.tools.with_role("plan.get")] == ["plan_get"]
        assert agent.context.plan_tools == {"plan_update", "plan_get"}
        # What the spending cap prices (agent/spending.py), found the same way.
        assert [s.name for s in agent.tools.with_role("jobs.submit")] == ["jobs_submit"]
        assert [s.name for s in agent.tools.with_role("jobs.hardware")] == ["jobs_hardware"]
