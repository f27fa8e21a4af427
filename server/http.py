"""The streamable-HTTP app: bearer auth, DNS-rebinding guard, body cap, /healthz."""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import TYPE_CHECKING

from fastmcp.server.auth import AccessToken, TokenVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import UserError
from server.settings import Settings

if TYPE_CHECKING:
    from fastmcp import FastMCP
    from starlette.applications import Starlette


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SharedTokenVerifier(TokenVerifier):
    """Accepts exactly one bearer token, compared in constant time."""

    def __init__(self, token: str):
        super().__init__()
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token):
            return AccessToken(token="mlintern", client_id="mlintern-client", scopes=[])
        return None


class BodySizeLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before the MCP layer parses them."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(self.limit, send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(self.limit, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(limit: int, send: Send) -> None:
    body = json.dumps({"error": f"request body over {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def check_bind(settings: Settings) -> None:
    """Refuse to expose the server beyond this machine without a token."""
    if not is_loopback(settings.host) and settings.auth_token is None:
        raise UserError(
            f"Refusing to listen on {settings.host} without authentication: anyone who can reach "
            "this address could run tools. Set MLINTERN_AUTH_TOKEN or pass --auth-token, or "
            "bind to 127.0.0.1."
        )


def build_http_app(server: FastMCP, settings: Settings) -> Starlette:
    check_bind(settings)
    from server.dashboard import mount_dashboard  # the dashboard at /: same token, or a login

    mount_dashboard(server, settings)
    if settings.auth_token is not None:
        server.auth = SharedTokenVerifier(settings.auth_token.get_secret_value())

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "server": server.name})

    from starlette.middleware import Middleware

    hosts = list(settings.allowed_hosts)
    if not is_loopback(settings.host) and settings.host not in ("0.0.0.0", "::"):
        hosts.append(settings.host)
    return server.http_app(
        path=settings.path,
        middleware=[Middleware(BodySizeLimit, limit=settings.max_request_bytes)],
        host_origin_protection=True,
        allowed_hosts=hosts or None,
        allowed_origins=list(settings.allowed_origins) or None,
    )
