"""Sandbox code plants FIFOs and swaps files; the server's file tools never block or overreach."""

from __future__ import annotations

import anyio
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from sandbox_kit import data, text

from toolkits.sandbox.files import MAX_EDIT_BYTES


async def test_read_write_and_edit_refuse_a_fifo_at_once(mcp: Client) -> None:
    sandbox_id = data(await mcp.call_tool("sandbox_create", {}))["sandbox_id"]
    await mcp.call_tool("sandbox_exec", {"sandbox_id": sandbox_id, "command": "mkfifo pipe"})
    target = {"sandbox_id": sandbox_id, "path": "pipe"}
    with anyio.fail_after(15):  # a blocking open would hang here instead of failing
        with pytest.raises(ToolError, match="cannot be written: No such device or address"):
            await mcp.call_tool("sandbox_files", {"op": "write", **target, "content": "x"})
        with pytest.raises(ToolError, match="not a regular file"):
            await mcp.call_tool("sandbox_files", target)
        with pytest.raises(ToolError, match="No file 'pipe' to edit"):
            await mcp.call_tool("sandbox_files", {"op": "edit", **target, "old": "a", "new": "b"})
        # Positive control: the server still serves, and a regular file is written and read.
        await mcp.call_tool(
            "sandbox_files", {"op": "write", **target, "path": "ok.txt", "content": "fine"}
        )
        read = await mcp.call_tool("sandbox_files", {"op": "read", **target, "path": "ok.txt"})
    assert "fine" in text(read)


async def test_the_edit_limit_is_checked_on_the_file_actually_opened(mcp: Client) -> None:
    sandbox_id = data(await mcp.call_tool("sandbox_create", {}))["sandbox_id"]
    big = MAX_EDIT_BYTES + 1
    command = f"head -c {big} /dev/zero | tr '\\\\0' a > big.txt && echo small > small.txt"
    await mcp.call_tool("sandbox_exec", {"sandbox_id": sandbox_id, "command": command})
    with pytest.raises(ToolError, match=f"{big} bytes, over the"):
        await mcp.call_tool(
            "sandbox_files",
            {"op": "edit", "sandbox_id": sandbox_id, "path": "big.txt", "old": "a", "new": "b"},
        )
    edited = await mcp.call_tool(
        "sandbox_files",
        {"op": "edit", "sandbox_id": sandbox_id, "path": "small.txt", "old": "small", "new": "ok"},
    )
    assert data(edited)["replacements"] == 1
