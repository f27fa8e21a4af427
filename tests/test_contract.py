"""Every registered tool honours the house contract (DESIGN.md, "Tool catalog")."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import client

from server.app import build_server
from server.registry import TOOLKITS
from server.settings import Settings

ANNOTATIONS = ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint")


def unbounded(schema: dict[str, Any], path: str, defs: dict[str, Any]) -> list[str]:
    """Paths of parameters with no size bound (strings, numbers, arrays, free-form objects)."""
    if "$ref" in schema:
        return unbounded(defs[schema["$ref"].split("/")[-1]], path, defs)
    for combo in ("anyOf", "oneOf", "allOf"):
        if combo in schema:
            return [p for branch in schema[combo] for p in unbounded(branch, path, defs)]
    if "enum" in schema or "const" in schema:
        return []
    kind = schema.get("type")
    if isinstance(kind, list):  # a merged union: each type's own bound must be there
        return [p for k in kind for p in unbounded({**schema, "type": k}, path, defs)]
    problems: list[str] = []
    if kind == "string" and "maxLength" not in schema:
        problems.append(f"{path}: string without maxLength")
    elif (
        kind in ("integer", "number")
        and "maximum" not in schema
        and "exclusiveMaximum" not in schema
    ):
        problems.append(f"{path}: number without maximum")
    elif kind == "array":
        if "maxItems" not in schema:
            problems.append(f"{path}: array without maxItems")
        problems += unbounded(schema.get("items", {}), f"{path}[]", defs)
    elif kind == "object":
        for name, sub in schema.get("properties", {}).items():
            problems += unbounded(sub, f"{path}.{name}", defs)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                problems.append(f"{path}: free-form object without maxProperties")
            problems += unbounded(extra, f"{path}{{}}", defs)
    return problems


@pytest.fixture
async def tools(settings: Settings) -> list[Any]:
    async with client(build_server(settings)) as c:
        return await c.list_tools()


async def test_every_toolkit_in_the_registry_is_mounted(tools: list[Any]) -> None:
    prefixes = {tool.name.split("_", 1)[0] for tool in tools}
    expected = {name for name, entry in TOOLKITS.items() if entry.namespace is None}
    assert expected <= prefixes


async def test_every_tool_has_title_description_annotations_and_output_schema(
    tools: list[Any],
) -> None:
    assert tools
    for tool in tools:
        assert tool.title, f"{tool.name} has no title"
        assert tool.description and len(tool.description) > 40, f"{tool.name}: thin description"
        assert tool.annotations is not None, f"{tool.name} has no annotations"
        for hint in ANNOTATIONS:
            assert getattr(tool.annotations, hint) is not None, f"{tool.name} lacks {hint}"
        assert tool.output_schema and tool.output_schema.get("type") == "object", (
            f"{tool.name} has no object output schema"
        )


async def test_every_parameter_is_bounded(tools: list[Any]) -> None:
    problems = []
    for tool in tools:
        schema = tool.input_schema
        problems += unbounded(schema, tool.name, schema.get("$defs", {}))
    assert not problems, "unbounded parameters:\n" + "\n".join(problems)


async def test_read_only_registers_no_mutating_tool(settings: Settings) -> None:
    settings.read_only = True
    server = build_server(settings)
    async with client(server) as c:
        tools = await c.list_tools()
    assert tools, "read-only mode should still offer the read tools"
    assert all(tool.annotations.read_only_hint for tool in tools)
    assert "plan_update" not in {tool.name for tool in tools}
    assert "read-only" in (server.instructions or "")


async def test_toolsets_keep_only_the_named_toolkits(settings: Settings) -> None:
    settings.toolsets = ["plan"]
    async with client(build_server(settings)) as c:
        names = {tool.name for tool in await c.list_tools()}
    assert names == {"plan_update", "plan_get"}


def test_instructions_describe_each_mounted_toolkit(settings: Settings) -> None:
    server = build_server(settings)
    for name, entry in TOOLKITS.items():
        assert f"- {name}: {entry.purpose}" in (server.instructions or "")


# Values that really are any JSON: a SQL result's cells, a config value before and after.
ANY_JSON_ALLOWED = {
    "datasets_inspect.rows[][]",
    "experiments_restart.changes[].old",
    "experiments_restart.changes[].new",
}


def untyped(schema: Any, path: str, defs: dict[str, Any]) -> list[str]:
    """Paths of output values whose schema accepts anything."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        return untyped(defs[schema["$ref"].split("/")[-1]], path, defs)
    typed_keys = {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"}
    if not typed_keys & set(schema):
        return [path]
    found: list[str] = []
    for combo in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(combo, []):
            found += untyped(branch, path, defs)
    for name, sub in schema.get("properties", {}).items():
        found += untyped(sub, f"{path}.{name}", defs)
    if "items" in schema:
        found += untyped(schema["items"], f"{path}[]", defs)
    if isinstance(schema.get("additionalProperties"), dict):
        found += untyped(schema["additionalProperties"], f"{path}{{}}", defs)
    return found


async def test_output_schemas_say_what_comes_back(tools: list[Any]) -> None:
    problems = [
        path
        for tool in tools
        if tool.output_schema
        for path in untyped(tool.output_schema, tool.name, tool.output_schema.get("$defs", {}))
        if path not in ANY_JSON_ALLOWED
    ]
    assert not problems, problems
