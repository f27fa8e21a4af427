"""Run an ASGI app on a free loopback port for the duration of a test.

Fakes of remote services are real HTTP servers so that the real client libraries
(huggingface_hub, httpx, PyGithub) go through their whole request path. ``serve`` starts uvicorn
in a thread and stops it on exit; ``Recorder`` wraps an app and keeps every request it saw, so a
test can assert on what a client sent (which headers reached which host, how many calls).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Recorder:
    """ASGI middleware that logs each HTTP request before passing it on."""

    app: Any
    requests: list[RecordedRequest] = field(default_factory=list)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append(
                RecordedRequest(
                    method=scope["method"],
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1"),
                    headers={
                        k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in scope["headers"]
                    },
                )
            )
        await self.app(scope, receive, send)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def clear(self) -> None:
        self.requests.clear()


@contextlib.contextmanager
def serve(app: Any, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port); yield its base URL, e.g. http://127.0.0.1:PORT."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        # Handlers that stall on purpose (timeout tests) must not hold up the test's teardown.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="loopback-fake", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("loopback fake server did not start")
        time.sleep(0.01)
    # Port 0 lets the OS pick a free port with no race; read back the one it bound.
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
