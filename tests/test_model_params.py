"""A tool whose parameters are a model's fields (server/model_params.py): the schema is the
model's, the function gets one validated model, and rules across fields still hold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastmcp import Context
from fastmcp.exceptions import ToolError
from helpers import client
from pydantic import BaseModel, Field, model_validator

from server.model_params import takes_fields
from server.settings import Settings
from server.toolkit import Toolkit, ToolkitContext, ToolOutput
from toolkits.jobs.models import JobSpec


class Spec(BaseModel):
    name: Annotated[str, Field(max_length=10, description="What to call it.")]
    size: int = Field(default=1, ge=1, le=5)
    tags: list[Annotated[str, Field(max_length=8)]] = Field(default_factory=list, max_length=3)
    note: str | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _big_needs_a_note(self) -> Spec:
        if self.size > 3 and not self.note:
            raise ValueError("a size over 3 needs a note")
        return self


class Got(ToolOutput):
    spec: Spec
    loud: bool


def spec_toolkit(tmp_path: Path) -> Toolkit:
    toolkit = Toolkit("t", ToolkitContext(Settings(home=tmp_path)), "test toolkit")

    @toolkit.tool(
        name="make",
        title="Make",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    @takes_fields(Spec)
    async def make(ctx: Context, spec: Spec, loud: bool = False) -> Got:
        """Make a thing from the spec and say what was received."""
        return Got(spec=spec, loud=loud)

    return toolkit


async def test_the_schema_is_the_models_and_the_function_gets_one_spec(tmp_path: Path) -> None:
    async with client(spec_toolkit(tmp_path).mcp) as c:
        (tool,) = await c.list_tools()
        result = await c.call_tool("make", {"name": "a", "tags": ["x"], "loud": True})
    props = tool.input_schema["properties"]
    assert list(props) == ["loud", "name", "size", "tags", "note"]
    assert tool.input_schema["required"] == ["name"]
    assert props["name"] == {"description": "What to call it.", "maxLength": 10, "type": "string"}
    # The floor beside a default is left to the validator (server/schema_slim.py).
    assert props["size"] == {"default": 1, "maximum": 5, "type": "integer"}
    assert props["tags"]["maxItems"] == 3 and props["tags"]["items"]["maxLength"] == 8
    assert result.structured_content == {
        "spec": {"name": "a", "size": 1, "tags": ["x"], "note": None},
        "loud": True,
    }


async def test_field_bounds_and_rules_across_fields_are_enforced(tmp_path: Path) -> None:
    async with client(spec_toolkit(tmp_path).mcp) as c:
        with pytest.raises(ToolError, match="less than or equal to 5"):
            await c.call_tool("make", {"name": "a", "size": 9})
        with pytest.raises(ToolError, match="Invalid arguments: arguments: Value error, a size "):
            await c.call_tool("make", {"name": "a", "size": 4})
        with pytest.raises(ToolError, match="Unexpected keyword argument"):
            await c.call_tool("make", {"name": "a", "colour": "red"})
        fine = await c.call_tool("make", {"name": "a", "size": 4, "note": "big on purpose"})
    assert (fine.structured_content or {})["spec"]["size"] == 4  # positive control: the rule


def test_a_field_that_is_also_a_parameter_is_refused() -> None:
    async def clash(spec: Spec, name: str) -> None:
        """Clash."""

    with pytest.raises(TypeError, match=r"\['name'\] are both parameters and fields"):
        takes_fields(Spec)(clash)


async def test_jobs_submit_publishes_exactly_the_fields_of_jobspec(settings: Settings) -> None:
    from server.app import build_server

    settings.toolsets = ["jobs"]
    async with client(build_server(settings)) as c:
        tools = {tool.name: tool for tool in await c.list_tools()}
    submit = tools["jobs_submit"].input_schema["properties"]
    assert list(submit) == list(JobSpec.model_fields)
    preflight = tools["jobs_preflight"].input_schema["properties"]
    for name in ("script", "command", "script_args", "working_dir", "config_file", "env"):
        assert preflight[name] == submit[name], name  # one definition, the same words
