"""The streamable-HTTP app: bearer auth, DNS-rebinding guard, body cap, resumable SSE, /healthz."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from typing import TYPE_CHECKING

from fastmcp.server.auth import AccessToken, TokenVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.discovery import CARD_PATH, server_card
from server.errors import UserError
from server.event_store import SqliteEventStore
from server.settings import Settings
from server.stdio import INVALID_REQUEST

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
    message = (
        f"Request body over {limit} bytes: send less per request (the server's limit is "
        "MLINTERN_MAX_REQUEST_BYTES)."
    )
    await _send_jsonrpc_error(send, 413, INVALID_REQUEST, message)


class JsonRpcShapeCheck:
    """Answer a POST that is JSON but no JSON-RPC message with -32600, as JSON-RPC 2.0 says.

    The SDK answers it with -32602 (invalid params) and a multi-line pydantic dump; a client
    needs to learn that its request itself was malformed. Bodies that are not JSON at all are
    left to the SDK, which already answers -32700.
    """

    def __init__(self, app: ASGIApp, path: str):
        self.app = app
        self.path = path.rstrip("/") or "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not self._is_mcp(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:  # the body is already capped by BodySizeLimit around this
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # a disconnect: let the app see it
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        problem = _not_jsonrpc(body)
        if problem:
            await _send_jsonrpc_error(send, 400, INVALID_REQUEST, problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _is_mcp(self, scope: Scope) -> bool:
        return scope.get("path", "").rstrip("/") == self.path.rstrip("/")


def _not_jsonrpc(body: bytes) -> str | None:
    """Why ``body`` is JSON but not one JSON-RPC message, or None (not JSON, or fine)."""
    from mcp_types import jsonrpc_message_adapter
    from pydantic import ValidationError

    try:
        raw = json.loads(body)
    except ValueError:
        return None
    try:
        jsonrpc_message_adapter.validate_python(raw, by_name=False)
    except ValidationError:
        return (
            "Invalid request: the body is JSON but not a JSON-RPC 2.0 request, notification "
            'or response (one object with "jsonrpc": "2.0" and a "method", or an "id" with '
            'a "result" or "error"; batches are not supported).'
        )
    return None


async def _send_jsonrpc_error(send: Send, status: int, code: int, message: str) -> None:
    payload = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


def check_bind(settings: Settings) -> None:
    """Refuse to expose the server beyond this machine without a token."""
    if not is_loopback(settings.host) and settings.auth_token is None:
        raise UserError(
            f"Refusing to listen on {settings.host} without authentication: anyone who can reach "
            "this address could run tools. Set MLINTERN_AUTH_TOKEN or pass --auth-token, or "
            "bind to 127.0.0.1."
        )


def _event_store(settings: Settings) -> SqliteEventStore:
    from server.state import StateStore

    return SqliteEventStore(
        StateStore(settings.state_path),
        max_events=settings.sse_events_max,
        max_age_s=settings.sse_events_max_age_s,
        secret_values=settings.secret_values(),
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

    # Discovery happens before a client holds a token, so the card is public; it says that a
    # token is required and which toolsets exist, never anything from the state.
    @server.custom_route(CARD_PATH, methods=["GET"])
    async def card(request: Request) -> JSONResponse:
        base_url = str(request.base_url).rstrip("/")
        return JSONResponse(await server_card(server, settings, base_url))

    from starlette.middleware import Middleware

    hosts = list(settings.allowed_hosts)
    if not is_loopback(settings.host) and settings.host not in ("0.0.0.0", "::"):
        hosts.append(settings.host)
    return server.http_app(
        path=settings.path,
        event_store=_event_store(settings),
        retry_interval=settings.sse_retry_ms,
        middleware=[
            Middleware(BodySizeLimit, limit=settings.max_request_bytes),
            Middleware(JsonRpcShapeCheck, path=settings.path),
        ],
        host_origin_protection=True,
        allowed_hosts=hosts or None,
        allowed_origins=list(settings.allowed_origins) or None,
    )


def guarded_h11_protocol(settings: Settings) -> type:
    """uvicorn's h11 protocol with a deadline on reading each request.

    uvicorn times out idle keep-alive connections, but not a client that sends its headers (or
    body) one byte at a time: a few hundred such sockets would hold every connection slot
    (slowloris). Each request must be read whole within ``http_request_read_timeout_s`` of the
    connection opening or of the previous response ending; otherwise the connection is closed.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    limit = settings.http_request_read_timeout_s

    class GuardedH11Protocol(H11Protocol):
        _read_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_read_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_read_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
            super().connection_lost(exc)

        def _arm_read_deadline(self) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
            self._read_deadline = self.loop.call_later(limit, self._on_read_deadline)

        def _on_read_deadline(self) -> None:
            # IDLE: the request line or headers are still incomplete; SEND_BODY: the body is.
            if (
                self.conn.their_state in (h11.IDLE, h11.SEND_BODY)
                and not self.transport.is_closing()
            ):
                self.transport.close()

    return GuardedH11Protocol
