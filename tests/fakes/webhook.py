"""A webhook receiver on loopback: keeps every JSON body posted to it, in order.

Wrapped by ``loopback.run_fake`` so a test can also make it answer 500 or stall, and count the
attempts (the recorder sees refused requests too).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any


class WebhookReceiver:
    """ASGI app: POST any path -> 200, the body kept in ``bodies`` as (path, parsed JSON)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []
        self._arrived = threading.Condition()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._arrived:
            self.bodies.append((scope["path"], json.loads(raw or b"null")))
            self._arrived.notify_all()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Any]:
        """The first ``count`` bodies, once they arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.bodies) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.bodies)} of {count} webhook posts arrived")
                self._arrived.wait(remaining)
            return [body for _path, body in self.bodies[:count]]

    def of_kind(self, kind: str) -> list[Any]:
        return [b for _p, b in self.bodies if isinstance(b, dict) and b.get("event") == kind]
