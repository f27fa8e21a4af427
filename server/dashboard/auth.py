"""Who may see the dashboard: the MCP endpoint's bearer token, or a browser session that began
with the one-time login link printed at start (an HttpOnly, SameSite=Strict cookie)."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

COOKIE = "mlintern_session"
MAX_SESSIONS = 64  # browsers logged in at once; the oldest is forgotten past it


class DashboardAuth:
    def __init__(self, bearer_token: str | None):
        self._bearer = bearer_token
        self._login_keys: set[str] = set()
        self._sessions: list[str] = []

    def new_login_key(self) -> str:
        """A key for one login link: it works once."""
        key = secrets.token_urlsafe(24)
        self._login_keys.add(key)
        return key

    def redeem(self, key: str) -> str | None:
        """The login key, if valid, becomes a session id (and stops working)."""
        match = next((k for k in self._login_keys if hmac.compare_digest(k, key)), None)
        if match is None:
            return None
        self._login_keys.discard(match)
        session = secrets.token_urlsafe(32)
        self._sessions = [*self._sessions[-(MAX_SESSIONS - 1) :], session]
        return session

    def allows(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if self._bearer and header.lower().startswith("bearer "):
            return hmac.compare_digest(header[7:].strip().encode(), self._bearer.encode())
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and any(hmac.compare_digest(cookie, s) for s in self._sessions)
