"""Run an ASGI app on a free loopback port for the duration of a test.

Fakes of remote services are real HTTP servers so that the real client libraries
(huggingface_hub, httpx, PyGithub) go through their whole request path. ``serve`` starts uvicorn
in a thread and stops it on exit; ``Recorder`` wraps an app and keeps every request it saw, so a
test can assert on what a client sent (which headers reached which host, how many calls);
``Faults`` wraps an app to answer chosen paths with an error status or to stall them, so error
paths (429 with Retry-After, 401, 5xx, timeouts) run through the client's real code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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


@dataclass
class _Fault:
    path_prefix: str
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    delay_s: float


@dataclass
class Faults:
    """ASGI middleware: the next requests under a path prefix fail or stall, as a test asks."""

    app: Any
    pending: list[_Fault] = field(default_factory=list)

    def fail(
        self,
        path_prefix: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` requests under ``path_prefix`` with ``status``."""
        body = {"error": f"injected {status}"} if body is None else body
        self.pending.append(_Fault(path_prefix, status, headers or {}, body, times, 0.0))

    def stall(self, path_prefix: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next ``times`` requests under ``path_prefix`` for ``seconds``, then serve."""
        self.pending.append(_Fault(path_prefix, 0, {}, None, times, seconds))

    def _take(self, path: str) -> _Fault | None:
        for fault in self.pending:
            if path.startswith(fault.path_prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self.pending.remove(fault)
                return fault
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        fault = self._take(scope["path"]) if scope["type"] == "http" else None
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is None or not fault.status:
            await self.app(scope, receive, send)
            return
        payload = fault.body if isinstance(fault.body, bytes) else json.dumps(fault.body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        headers += [(k.lower().encode(), v.encode()) for k, v in fault.headers.items()]
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


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


@dataclass
class RunningFake:
    """A fake being served: where it listens, what it saw, and how to make it misbehave."""

    url: str
    recorder: Recorder
    faults: Faults

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.recorder.requests if r.path.startswith(path_prefix)]

    def reset(self) -> None:
        """Forget past requests and pending faults, so one server can serve many tests."""
        self.recorder.clear()
        self.faults.pending.clear()


@contextlib.contextmanager
def run_fake(app: Any) -> Iterator[RunningFake]:
    """Serve ``app`` with fault injection inside recording (faulted requests are recorded too)."""
    faults = Faults(app)
    recorder = Recorder(faults)
    with serve(recorder) as url:
        yield RunningFake(url=url, recorder=recorder, faults=faults)
