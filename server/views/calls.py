"""``call(tool, arguments)`` for the view-models: the real tools, in this process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastmcp.exceptions import FastMCPError

from server.errors import UserError
from server.views.models import ToolCall

if TYPE_CHECKING:
    from fastmcp import FastMCP


def in_process(server: FastMCP) -> ToolCall:
    async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        given = {key: value for key, value in arguments.items() if value is not None}
        try:
            result = await server.call_tool(tool, given)
        except FastMCPError as exc:  # a tool error, an unknown tool, bad arguments
            raise UserError(str(exc)) from None
        if result.structured_content is None:
            text = " ".join(getattr(block, "text", "") for block in result.content)
            raise UserError(text or f"{tool} returned no structured result")
        return dict(result.structured_content)

    return call
