"""Fake E2B: the control-plane API (api.e2b.app) and the envd agent of each sandbox, on loopback.

Request and response shapes follow e2b's generated API client (e2b/api/client/api/sandboxes/,
models/sandbox.py) and its envd clients (see ``fakes.e2b_envd``). The SDK is pointed here with
its own ``api_url`` / ``sandbox_url`` options, so every byte goes through its real code. Each
sandbox's "VM filesystem" is a directory under ``root``; the fake keeps what the SDK sent
(API keys, timeouts, environments, commands) for tests to check.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fakes.e2b_envd import rpc_apps
from fakes.loopback import serve

ENVD_VERSION = "0.6.5"  # recent enough for stdin, close-stdin and octet-stream uploads


@dataclass
class FakeSandbox:
    sandbox_id: str
    root: Path
    access_token: str
    template: str
    timeout: int | None
    metadata: dict[str, str]
    allow_internet_access: bool | None
    env_vars: dict[str, str]
    killed: bool = False
    timeouts: list[int] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    processes: dict[int, Any] = field(default_factory=dict)

    def local(self, remote: str) -> Path:
        """Where a path of the sandbox's filesystem lives on this machine."""
        local = (self.root / remote.lstrip("/")).resolve()
        if self.root not in (local, *local.parents):
            raise PermissionError(f"{remote} escapes the fake sandbox")
        return local

    def as_api(self) -> dict[str, Any]:
        return {
            "templateID": self.template,
            "sandboxID": self.sandbox_id,
            "clientID": "fake-client",
            "envdVersion": ENVD_VERSION,
            "envdAccessToken": self.access_token,
            "domain": None,
        }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status)


class FakeE2B:
    def __init__(self, root: Path, api_key: str):
        self.root = root
        self.api_key = api_key
        self.sandboxes: dict[str, FakeSandbox] = {}
        self.api_keys_seen: list[str] = []
        self.input_arrives_late = False  # answer stdin as if the command had already exited
        routes = [
            Route("/v2/sandboxes", self.create, methods=["POST"]),
            Route("/v2/sandboxes/{sandbox_id}/connect", self.connect, methods=["POST"]),
            Route("/sandboxes/{sandbox_id}/timeout", self.set_timeout, methods=["POST"]),
            Route("/sandboxes/{sandbox_id}", self.kill, methods=["DELETE"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/files", self.download, methods=["GET"]),
            Route("/files", self.upload, methods=["POST"]),
        ]
        self.rest = Starlette(routes=routes)
        self.rpc = rpc_apps(self)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        for prefix, app in self.rpc.items():
            if scope["type"] == "http" and scope["path"].startswith(prefix):
                await app(scope, receive, send)
                return
        await self.rest(scope, receive, send)

    # --- control plane ----------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        key = request.headers.get("x-api-key", "")
        self.api_keys_seen.append(key)
        return key == self.api_key

    async def create(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "Invalid API key")
        body = await request.json()
        sandbox_id = "i" + secrets.token_hex(8)
        sandbox = FakeSandbox(
            sandbox_id=sandbox_id,
            root=(self.root / sandbox_id).resolve(),
            access_token=secrets.token_hex(16),
            template=body["templateID"],
            timeout=body.get("timeout"),
            metadata=body.get("metadata") or {},
            allow_internet_access=body.get("allow_internet_access"),
            env_vars=body.get("envVars") or {},
        )
        (sandbox.root / "home" / "user").mkdir(parents=True)
        self.sandboxes[sandbox_id] = sandbox
        return JSONResponse(sandbox.as_api(), status_code=201)

    def _live(self, sandbox_id: str) -> FakeSandbox | None:
        sandbox = self.sandboxes.get(sandbox_id)
        return sandbox if sandbox is not None and not sandbox.killed else None

    async def connect(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "Invalid API key")
        sandbox = self._live(request.path_params["sandbox_id"])
        if sandbox is None:
            return _error(404, "sandbox not found")
        body = await request.json()
        sandbox.timeouts.append(body.get("timeout"))
        return JSONResponse(sandbox.as_api(), status_code=200)

    async def set_timeout(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "Invalid API key")
        sandbox = self._live(request.path_params["sandbox_id"])
        if sandbox is None:
            return _error(404, "sandbox not found")
        sandbox.timeouts.append((await request.json())["timeout"])
        return Response(status_code=204)

    async def kill(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "Invalid API key")
        sandbox = self._live(request.path_params["sandbox_id"])
        if sandbox is None:
            return _error(404, "sandbox not found")
        self.expire(sandbox.sandbox_id)
        return Response(status_code=204)

    def expire(self, sandbox_id: str) -> None:
        """End a sandbox the way E2B does when its timeout passes."""
        sandbox = self.sandboxes[sandbox_id]
        sandbox.killed = True
        for proc in list(sandbox.processes.values()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(sandbox.root, ignore_errors=True)

    # --- envd -------------------------------------------------------------------------

    def sandbox_for(self, headers: dict[str, str]) -> FakeSandbox:
        lowered = {k.lower(): v for k, v in headers.items()}
        sandbox = self._live(lowered.get("e2b-sandbox-id", ""))
        if sandbox is None:
            raise LookupError("sandbox not found")
        if lowered.get("x-access-token") != sandbox.access_token:
            raise PermissionError("bad envd access token")
        return sandbox

    async def health(self, request: Request) -> Response:
        return Response(status_code=204)

    async def download(self, request: Request) -> Response:
        try:
            sandbox = self.sandbox_for(dict(request.headers))
            local = sandbox.local(request.query_params["path"])
        except (LookupError, PermissionError) as exc:
            return _error(401, str(exc))
        if not local.is_file():
            return _error(404, f"path '{request.query_params['path']}' does not exist")
        return Response(local.read_bytes(), media_type="application/octet-stream")

    async def upload(self, request: Request) -> Response:
        try:
            sandbox = self.sandbox_for(dict(request.headers))
        except (LookupError, PermissionError) as exc:
            return _error(401, str(exc))
        written = []
        if request.headers.get("content-type", "").startswith("application/octet-stream"):
            path = request.query_params["path"]
            written.append((path, await request.body()))
        else:
            form = await request.form()
            for _, part in form.multi_items():
                path = request.query_params.get("path") or part.filename  # type: ignore[union-attr]
                written.append((path, await part.read()))  # type: ignore[union-attr]
        for path, data in written:
            local = sandbox.local(path)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
        body = [{"name": Path(p).name, "type": "file", "path": p} for p, _ in written]
        return Response(json.dumps(body), media_type="application/json")


@contextlib.contextmanager
def fake_e2b(root: Path, api_key: str) -> Iterator[tuple[FakeE2B, str]]:
    """Serve a fake E2B on 127.0.0.1; yield it and its base URL (API and envd alike)."""
    fake = FakeE2B(root, api_key)
    try:
        with serve(fake) as url:
            yield fake, url
    finally:
        for sandbox in fake.sandboxes.values():
            if not sandbox.killed:
                fake.expire(sandbox.sandbox_id)
