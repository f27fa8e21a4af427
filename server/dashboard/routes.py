"""HTTP routes of the dashboard. Everything but /healthz needs the bearer token or a session.

Reads go through the same tools a model calls (server/views/models.py); the two actions a
person takes here (cancel a job, answer an approval) call jobs_cancel and ml_task(action='approve') in
this process, so a delegated run this server drives resumes exactly as if its host answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from server.dashboard.auth import COOKIE, DashboardAuth
from server.dashboard.prewarm import Prewarm
from server.errors import UserError
from server.settings import Settings
from server.state import StateStore
from server.views import models
from server.views.calls import in_process

if TYPE_CHECKING:
    from fastmcp import FastMCP

# All a page may do (reads are GETs): each tool, with the one action it may take, if it has actions.
ACTIONS: dict[str, str | None] = {"jobs_cancel": None, "ml_task": "approve"}
STATIC = {
    "chart.js": "views",
    "views.js": "views",
    "style.css": "views",
    "dashboard.js": "dashboard",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
CHANGE_CHECK_S = 1.0  # server-side; the browser is pushed an event only when something changed
HEARTBEAT_S = 15.0


class Dashboard:
    def __init__(self, server: FastMCP, settings: Settings):
        token = settings.auth_token.get_secret_value() if settings.auth_token else None
        self.auth = DashboardAuth(token)
        self.call = in_process(server)
        self.settings = settings
        self._store: StateStore | None = None
        self._prewarm: Prewarm | None = None

    @property
    def store(self) -> StateStore:
        if self._store is None:
            self._store = StateStore(self.settings.state_path)
        return self._store

    def login_link(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/login?key={self.auth.new_login_key()}"

    def routes(self) -> list[Route]:
        guarded: list[tuple[str, Callable[[Request], Awaitable[Response]], str]] = [
            ("/", self.index, "GET"),
            ("/static/{name}", self.static, "GET"),
            ("/api/overview", self.overview, "GET"),
            ("/api/view/{kind}", self.view, "GET"),
            ("/api/journal", self.journal, "GET"),
            ("/api/call", self.act, "POST"),
            ("/api/events", self.events, "GET"),
        ]
        routes = [Route("/login", self.login, methods=["GET"])]
        routes += [Route(path, self._guard(fn), methods=[method]) for path, fn, method in guarded]
        return routes

    def _guard(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            if not self.auth.allows(request):
                return JSONResponse(
                    {"error": "log in with the link mlintern-server printed, or send the token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                response = await handler(request)
            except UserError as exc:
                response = JSONResponse({"error": str(exc)}, status_code=400)
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Cache-Control"] = "no-store"
            return response

        return guarded

    async def login(self, request: Request) -> Response:
        session = self.auth.redeem(request.query_params.get("key", ""))
        if session is None:
            return JSONResponse(
                {"error": "this login link was used already or is wrong; restart for a new one"},
                status_code=403,
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, session, httponly=True, samesite="strict", path="/")
        return response

    async def index(self, request: Request) -> Response:
        return HTMLResponse(_asset("dashboard", "dashboard.html"))

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return JSONResponse({"error": "no such file"}, status_code=404)
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return Response(_asset(STATIC[name], name), media_type=kind)

    async def overview(self, request: Request) -> Response:
        with self._serving_page():
            model = await models.overview_model(self.call, self.store)
        if self.prewarm is not None:
            self.prewarm.jobs_listed(model["jobs"])
        return JSONResponse(model)

    def _serving_page(self) -> contextlib.AbstractContextManager[None]:
        """The background pass holds back while a person waits for a page."""
        return self.prewarm.page() if self.prewarm is not None else contextlib.nullcontext()

    @property
    def prewarm(self) -> Prewarm | None:
        """Reads listed runs' metrics in the background (only if experiments are served)."""
        from server.app import select_toolsets

        if self._prewarm is None and "experiments" in select_toolsets(self.settings.toolsets):
            self._prewarm = Prewarm(self.settings, self.store)
        return self._prewarm

    async def view(self, request: Request) -> Response:
        kind, query = request.path_params["kind"], request.query_params
        with self._serving_page():
            if kind == "experiment":
                tags = [t for t in query.get("tags", "").split(",") if t][:20] or None
                model = await models.experiment_model(
                    self.call, _param(query, "source"), tags, query.get("preferences"), self.store
                )
            elif kind == "job":
                model = await models.job_model(self.call, _param(query, "job_id"))
            elif kind == "approval":
                model = await models.approval_model(self.call, _param(query, "run_id"))
            else:
                return JSONResponse({"error": f"no view {kind!r}"}, status_code=404)
        return JSONResponse(model)

    async def journal(self, request: Request) -> Response:
        experiment = _param(request.query_params, "experiment")
        return JSONResponse(await self.call("experiments_journal", {"experiment": experiment}))

    async def act(self, request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            # A cross-site form cannot send JSON without a CORS preflight, which fails here.
            return JSONResponse({"error": "send application/json"}, status_code=415)
        body = await request.json()
        tool = body.get("tool") if isinstance(body, dict) else None
        if tool not in ACTIONS:
            return JSONResponse({"error": f"the dashboard may only call {sorted(ACTIONS)}"}, 400)
        arguments = body.get("arguments")
        if not isinstance(arguments, dict):
            return JSONResponse({"error": "arguments must be an object"}, status_code=400)
        if ACTIONS[tool] is not None and arguments.get("action") != ACTIONS[tool]:
            return JSONResponse({"error": f"{tool} may only {ACTIONS[tool]} here"}, 400)
        return JSONResponse(await self.call(tool, arguments))

    async def events(self, request: Request) -> Response:
        return StreamingResponse(self._changes(request), media_type="text/event-stream")

    async def _changes(self, request: Request) -> AsyncIterator[str]:
        seen = self._fingerprint()
        quiet = 0.0
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            await asyncio.sleep(CHANGE_CHECK_S)
            now = self._fingerprint()
            if now != seen:
                seen, quiet = now, 0.0
                yield "event: changed\ndata: {}\n\n"
            else:
                quiet += CHANGE_CHECK_S
                if quiet >= HEARTBEAT_S:
                    quiet = 0.0
                    yield ": still here\n\n"

    def _fingerprint(self) -> tuple[Any, ...]:
        """State file, its WAL and the newest job directories: what the pages show."""
        state = self.settings.state_path
        paths = [state, state.with_name(state.name + "-wal")]
        jobs = self.settings.home / "jobs"
        if jobs.is_dir():
            newest = sorted(jobs.iterdir(), key=_mtime, reverse=True)[:20]
            for job in newest:
                paths += [job, *sorted(job.glob("*.log")), job / "metrics"]
        return tuple((str(p), _mtime(p), _size(p)) for p in paths)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _param(query: Any, name: str) -> str:
    value = query.get(name, "")
    if not value or len(value) > 1000:
        raise UserError(f"give {name}= (up to 1000 characters)")
    return value


def _asset(package: str, name: str) -> str:
    return files(f"server.{package}").joinpath("assets", name).read_text(encoding="utf-8")


def mount_dashboard(server: FastMCP, settings: Settings) -> Dashboard:
    """Add the dashboard's routes to ``server``'s HTTP app and print a one-time login link."""
    dashboard = Dashboard(server, settings)
    # What @server.custom_route does, for routes built outside a decorator.
    server._additional_http_routes.extend(dashboard.routes())
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    link = dashboard.login_link(f"http://{host}:{settings.port}")
    print(f"mlintern-server: dashboard login (works once): {link}", file=sys.stderr)
    return dashboard
