"""Typed access to an MCP tool result, for the papers and docs tests."""

from __future__ import annotations

from typing import Any

from fastmcp.client.client import CallToolResult
from mcp.types import TextContent


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured content (the tool's output model as JSON)."""
    assert result.structured_content is not None, "tool returned no structured content"
    return result.structured_content


def text(result: CallToolResult) -> str:
    """The text rendering a model reads."""
    first = result.content[0]
    assert isinstance(first, TextContent), f"expected text content, got {type(first).__name__}"
    return first.text
