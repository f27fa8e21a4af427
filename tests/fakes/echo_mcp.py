"""A second, small MCP server for the chaining tests (an agent using another server's tools in
the same task as mlintern's).

    python tests/fakes/echo_mcp.py --http PORT --record FILE   # bearer token required
    python tests/fakes/echo_mcp.py --stdio

Over HTTP every request must carry ``Authorization: Bearer $ECHO_EXPECTED_TOKEN`` (401
otherwise) and the header each request carried is appended to FILE, so a test can prove which
credential reached this server. ``credential_names`` tells which credential-like variables its
own process environment holds (names only), so a test can prove a stdio server was started
without another service's secrets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from fastmcp import FastMCP
from mcp.types import ToolAnnotations

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_CREDENTIAL_WORDS = ("TOKEN", "API_KEY", "SECRET", "PASSWORD")


def build_server() -> FastMCP:
    echo = FastMCP("echo", instructions="A toy server: shouts text back; lists credential names.")

    @echo.tool(annotations=READ_ONLY)
    def shout(text: str) -> str:
        """Return the text in capitals with an exclamation mark."""
        return text.upper() + "!"

    @echo.tool(annotations=READ_ONLY)
    def credential_names() -> list[str]:
        """Names (never values) of the credential-like environment variables this server has."""
        return sorted(k for k in os.environ if any(w in k.upper() for w in _CREDENTIAL_WORDS))

    return echo


class BearerGate:
    """ASGI middleware: record the Authorization header of every request; refuse wrong ones."""

    def __init__(self, app: Any, expected: str, record: Path):
        self.app = app
        self.expected = f"Bearer {expected}"
        self.record = record

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        seen = headers.get("authorization")
        with self.record.open("a") as handle:
            handle.write(json.dumps({"path": scope["path"], "authorization": seen}) + "\n")
        if seen != self.expected:
            body = b'{"error": "unauthorized"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--http", type=int, metavar="PORT")
    parser.add_argument("--record", type=Path)
    args = parser.parse_args(argv)
    server = build_server()
    if args.stdio:
        server.run("stdio", show_banner=False)
        return 0
    import uvicorn

    app = BearerGate(server.http_app(path="/mcp"), os.environ["ECHO_EXPECTED_TOKEN"], args.record)
    uvicorn.run(app, host="127.0.0.1", port=args.http, log_level="warning", lifespan="on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
