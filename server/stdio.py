"""stdio transport that answers malformed input instead of dropping it.

The MCP SDK's stdio reader passes a line that is not valid JSON-RPC to the session as an
exception, and the session only logs it: a client that sent garbage waits forever. JSON-RPC 2.0
says such a line gets an error response with ``id: null`` (-32700 parse error, -32600 invalid
request). ``serve_stdio`` sits between the reader and the server to send exactly that.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import ErrorData, JSONRPCError
from pydantic import ValidationError

if TYPE_CHECKING:
    from fastmcp import FastMCP

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def error_for(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error response for a line the reader could not turn into a message."""
    not_json = isinstance(exc, ValidationError) and any(
        err.get("type") == "json_invalid" for err in exc.errors()
    )
    if not_json:
        data = ErrorData(code=PARSE_ERROR, message="Parse error: the line is not valid JSON.")
    else:
        data = ErrorData(
            code=INVALID_REQUEST,
            message="Invalid request: not a JSON-RPC 2.0 request, response or notification.",
        )
    return JSONRPCError(jsonrpc="2.0", id=None, error=data)


async def serve_stdio(server: FastMCP) -> None:
    """Run ``server`` over stdin/stdout (what fastmcp's run_stdio_async does, plus answers)."""
    from fastmcp.server.context import reset_transport, set_transport

    token = set_transport("stdio")
    try:
        async with server._lifespan_manager(), stdio_server() as (raw_read, write):
            send, receive = anyio.create_memory_object_stream[Any](0)

            async def answer_bad_lines() -> None:
                async with send:
                    async for item in raw_read:
                        if isinstance(item, Exception):
                            log.warning("malformed input on stdin: %s", str(item).splitlines()[0])
                            await write.send(SessionMessage(error_for(item)))
                        else:
                            await send.send(item)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(answer_bad_lines)
                low_level = server._mcp_server
                await low_level.run(receive, write, low_level.create_initialization_options())
                tasks.cancel_scope.cancel()
    finally:
        reset_transport(token)
