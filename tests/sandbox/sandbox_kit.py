"""Helpers of the sandbox tests: the toolkit behind a real MCP client, and process checks."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from typing import Any

from fastmcp import FastMCP
from fastmcp.client.client import CallToolResult
from mcp.types import TextContent

from server.app import build_server
from server.settings import Settings


def sandbox_server(settings: Settings, read_only: bool = False) -> FastMCP:
    """The real server with only the sandbox toolkit mounted (others' work stays out of it)."""
    return build_server(
        settings.model_copy(update={"toolsets": ["sandbox"], "read_only": read_only})
    )


def require_tun() -> None:
    """Fail (not skip) where slirp4netns cannot work: the isolation tests exist for this case."""
    assert os.path.exists("/dev/net/tun"), (
        "no /dev/net/tun: slirp4netns cannot give sandboxes their own network, so the network "
        "isolation tests cannot run. scripts/test.sh creates the device; on a container, run it "
        "with --device /dev/net/tun"
    )


def marker() -> tuple[str, str]:
    """An environment variable to hand an exec, by which its processes can be found later."""
    return "SANDBOX_TEST_MARK", secrets.token_hex(8)


def processes_carrying(name: str, value: str) -> list[int]:
    """PIDs of live processes whose environment holds ``name=value`` (zombies excluded)."""
    needle = f"{name}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != "Z":
            found.append(int(entry))
    return found


def text(result: CallToolResult) -> str:
    """The text a model reads from a tool result (or its error message)."""
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content


def host_has(*paths: str) -> bool:
    """Whether any of ``paths`` exists on the host (outside every sandbox)."""
    return any(os.path.lexists(path) for path in paths)


def processes_named(name: str) -> set[int]:
    """PIDs of live processes whose command name is ``name`` (zombies excluded) that this test
    process started, or that nobody holds any more (orphans, adopted by init): another test run
    sharing the machine does not count, a helper that escaped this one does."""
    parents: dict[int, int] = {}
    named: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        parents[int(entry)] = int(fields[1])
        if comm == name and fields[0] != "Z":
            named.add(int(entry))
    return {pid for pid in named if parents.get(pid) == 1 or _descends(pid, os.getpid(), parents)}


def _descends(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    seen: set[int] = set()
    while pid not in seen and pid > 1:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = parents.get(pid, 0)
    return False


@contextlib.contextmanager
def line_server(address: str) -> Iterator[int]:
    """A TCP server on ``address`` (of this machine) that answers one line per connection."""
    server = socket.socket()
    server.bind((address, 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"hello from the host\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()
