"""Published input schemas are lean, and the arguments are validated exactly as before."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from server.schema_slim import slim_schema
from server.settings import Settings
from server.toolkit import Toolkit, ToolkitContext, ToolOutput


class Limits(BaseModel):
    """Compute a job asks for."""

    cpus: float | None = Field(default=None, gt=0, le=64, description="CPU cores.")


class Echo(ToolOutput):
    text: str


def echo_toolkit(settings: Settings) -> Toolkit:
    toolkit = Toolkit("t", ToolkitContext(settings=settings), "test")

    @toolkit.tool(
        name="echo", title="Echo", read_only=True, destructive=False, idempotent=True,
        open_world=False,
    )  # fmt: skip
    def echo(
        text: Annotated[str, Field(min_length=1, max_length=5000, description="What to say.")],
        mode: Annotated[Literal["a", "b"], Field(description="A mode.")] = "a",
        name: Annotated[str | None, Field(max_length=20, description="Short name.")] = None,
        tags: Annotated[list[str], Field(max_length=3, description="Tags.")] = [],  # noqa: B006
        limits: Annotated[Limits | None, Field(description="Limits to ask for.")] = None,
    ) -> Echo:
        """Say it back."""
        return Echo(text=f"{text}|{mode}|{name}|{tags}|{limits}")

    return toolkit


async def test_the_published_schema_keeps_the_contract_in_fewer_words(settings: Settings) -> None:
    async with Client(echo_toolkit(settings).mcp) as client:
        (tool,) = await client.list_tools()
    assert tool.input_schema == {
        "type": "object",
        "properties": {
            "text": {"maxLength": 5000, "type": "string", "description": "What to say."},
            "mode": {"default": "a", "description": "A mode.", "enum": ["a", "b"]},
            "name": {"maxLength": 20, "type": "string", "description": "Short name."},
            "tags": {
                "description": "Tags.",
                "items": {"type": "string"},
                "maxItems": 3,
                "type": "array",
            },
            "limits": {
                "properties": {
                    "cpus": {
                        "exclusiveMinimum": 0,
                        "maximum": 64,
                        "type": "number",
                        "description": "CPU cores.",
                    }
                },
                "type": "object",
                "description": "Limits to ask for.",
            },
        },
        "required": ["text"],
    }


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"text": ""}, "at least 1 character"),
        ({"text": "x" * 5001}, "at most 5000 characters"),
        ({"text": "x", "name": "n" * 21}, "at most 20 characters"),
        ({"text": "x", "limits": {"cpus": 0}}, "greater than 0"),
        ({"text": "x", "mode": "c"}, "'a' or 'b'"),
        ({"text": "x", "surprise": 1}, "Unexpected keyword argument"),
    ],
)
async def test_what_the_schema_no_longer_spells_out_is_still_refused(
    settings: Settings, arguments: dict, complaint: str
) -> None:
    async with Client(echo_toolkit(settings).mcp) as client:
        with pytest.raises(ToolError, match=complaint):
            await client.call_tool("echo", arguments)
        # Positive control: the same tool takes good arguments, explicit nulls included.
        ok = await client.call_tool("echo", {"text": "hi", "name": None, "limits": {"cpus": 2}})
        assert ok.structured_content == {"text": "hi|a|None|[]|cpus=2.0"}


def test_a_property_named_title_is_a_name_not_a_keyword() -> None:
    schema = {"properties": {"title": {"title": "Title", "type": "string"}}, "title": "Args"}
    assert slim_schema(schema) == {"properties": {"title": {"type": "string"}}}


def test_unions_of_two_real_types_are_left_alone() -> None:
    schema = {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}
    assert slim_schema(schema) == schema


def test_what_a_model_assumes_anyway_goes_and_real_bounds_stay() -> None:
    schema = {
        "properties": {
            "offset": {"default": 0, "minimum": 0, "maximum": 9, "type": "integer"},
            "skip": {"default": 2, "minimum": 0, "maximum": 9, "type": "integer"},
            "floor": {"default": 1, "minimum": 1, "maximum": 9, "type": "integer"},
            "two": {"default": 2, "minimum": 2, "maximum": 9, "type": "integer"},
            "ratio": {"minimum": 1, "maximum": 9, "type": "number"},
            "required_floor": {"minimum": 5, "maximum": 9, "type": "integer"},
            "items": {"minItems": 1, "maxItems": 3, "type": "array"},
            "flag": {"default": False, "type": "boolean"},
            "on": {"default": True, "type": "boolean"},
            "query": {"default": "", "maxLength": 9, "type": "string"},
            "mixed": {"enum": ["a", 1]},
        }
    }
    assert slim_schema(schema) == {
        "properties": {
            "offset": {"maximum": 9, "type": "integer"},
            "skip": {"default": 2, "maximum": 9, "type": "integer"},
            "floor": {"default": 1, "maximum": 9, "type": "integer"},
            "two": {"default": 2, "maximum": 9, "type": "integer"},
            # A floor with no default beside it is the one hint of the value's scale: kept.
            "ratio": {"minimum": 1, "maximum": 9, "type": "number"},
            "required_floor": {"minimum": 5, "maximum": 9, "type": "integer"},
            "items": {"maxItems": 3, "type": "array"},
            "flag": {"type": "boolean"},
            "on": {"default": True, "type": "boolean"},
            "query": {"maxLength": 9, "type": "string"},
            "mixed": {"enum": ["a", 1]},
        }
    }
