"""A loopback fake of the Hugging Face Jobs API, for huggingface_hub's real client.

Routes and JSON shapes follow what huggingface_hub 1.x sends and parses (``hf_api.py``:
run_job, inspect_job, list_jobs, cancel_job, fetch_job_logs, list_jobs_hardware, whoami;
``_jobs_api.py``: JobInfo, JobHardwareInfo): camelCase job info with ``status.stage``, logs as
server-sent events ``data: {"data": ..., "timestamp": ...}`` that stay open while the job runs.

Jobs can really run: with ``execute=True`` the fake runs the job's command on this machine (no
container; the image is ignored) with the job's environment and secrets, so a test can check
that what the backend built actually works. Otherwise a job stays RUNNING until the test calls
``finish``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from fakes.loopback import Recorder, serve

HARDWARE = [
    {
        "name": "cpu-basic",
        "prettyName": "CPU Basic",
        "cpu": "2 vCPU",
        "ram": "16 GB",
        "ephemeralStorage": "50 GB",
        "accelerator": None,
        "unitCostMicroUSD": 167,
        "unitCostUSD": 0.000167,
        "unitLabel": "minute",
    },
    {
        "name": "a10g-small",
        "prettyName": "Nvidia A10G - small",
        "cpu": "4 vCPU",
        "ram": "15 GB",
        "ephemeralStorage": "110 GB",
        "accelerator": {
            "type": "gpu",
            "model": "A10G",
            "quantity": "1",
            "vram": "24 GB",
            "manufacturer": "Nvidia",
        },
        "unitCostMicroUSD": 16667,
        "unitCostUSD": 0.016667,
        "unitLabel": "minute",
    },
]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeJob:
    id: str
    namespace: str
    spec: dict[str, Any]
    stage: str = "SCHEDULING"
    message: str | None = None
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    logs: list[tuple[str, str]] = field(default_factory=list)
    process: subprocess.Popen | None = None

    def info(self, owner: dict[str, str]) -> dict[str, Any]:
        body = {
            "id": self.id,
            "createdAt": self.created_at,
            "dockerImage": self.spec.get("dockerImage"),
            "spaceId": self.spec.get("spaceId"),
            "command": self.spec.get("command"),
            "arguments": self.spec.get("arguments", []),
            "environment": self.spec.get("environment", {}),
            # The API never returns secret values, only which ones are set.
            "secrets": {name: "" for name in self.spec.get("secrets", {})},
            "flavor": self.spec.get("flavor"),
            "labels": self.spec.get("labels"),
            "status": {"stage": self.stage, "message": self.message},
            "owner": owner,
        }
        if self.started_at:
            body["startedAt"] = self.started_at
        if self.finished_at:
            body["finishedAt"] = self.finished_at
        return body

    @property
    def finished(self) -> bool:
        return self.stage in ("COMPLETED", "ERROR", "CANCELED", "DELETED")


class FakeHfJobs:
    """``with FakeHfJobs(token=...) as fake:`` serves the Jobs API on ``fake.url``."""

    def __init__(
        self,
        token: str,
        user: str = "alice",
        orgs: tuple[str, ...] = ("acme",),
        execute: bool = True,
    ) -> None:
        self.token = token
        self.user = user
        self.orgs = orgs
        self.execute = execute
        self.jobs: dict[str, FakeJob] = {}
        self.payment_required: set[str] = set()  # namespaces whose billing is not set up
        self.hardware_down = False
        self.lock = threading.Lock()
        self.recorder = Recorder(self._app())
        self.url = ""
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> FakeHfJobs:
        self.url = self._stack.enter_context(serve(self.recorder))
        return self

    def __exit__(self, *exc: object) -> None:
        for job in self.jobs.values():
            if job.process is not None and job.process.poll() is None:
                os.killpg(job.process.pid, signal.SIGKILL)
                job.process.wait(timeout=10)
        self._stack.close()

    # --- test controls ----------------------------------------------------------------------
    def finish(self, job_id: str, stage: str = "COMPLETED", logs: tuple[str, ...] = ()) -> None:
        job = self.jobs[job_id]
        with self.lock:
            job.logs += [(_now(), line) for line in logs]
            job.stage, job.finished_at = stage, _now()

    def only_job(self) -> FakeJob:
        assert len(self.jobs) == 1, list(self.jobs)
        return next(iter(self.jobs.values()))

    # --- the API ----------------------------------------------------------------------------
    def _owner(self) -> dict[str, str]:
        return {"id": "5e9ecfc04957053f60648a3e", "name": self.user, "type": "user"}

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _app(self) -> Starlette:
        def denied() -> JSONResponse:
            return JSONResponse({"error": "Invalid credentials in Authorization header"}, 401)

        async def whoami(request: Request) -> Response:
            if not self._authorized(request):
                return denied()
            orgs = [{"name": org, "type": "org"} for org in self.orgs]
            return JSONResponse({"type": "user", "name": self.user, "orgs": orgs})

        async def hardware(request: Request) -> Response:
            if self.hardware_down:
                return JSONResponse({"error": "unavailable"}, 503)
            return JSONResponse(HARDWARE)

        async def jobs(request: Request) -> Response:
            if not self._authorized(request):
                return denied()
            namespace = request.path_params["namespace"]
            if namespace not in (self.user, *self.orgs):
                return JSONResponse({"error": f"You cannot run jobs in {namespace}"}, 403)
            if request.method == "GET":
                stages = request.query_params.getlist("stage")
                labels = dict(x.split("=", 1) for x in request.query_params.getlist("label"))
                found = [
                    j.info(self._owner())
                    for j in self.jobs.values()
                    if j.namespace == namespace
                    and (not stages or j.stage in stages)
                    and all((j.spec.get("labels") or {}).get(k) == v for k, v in labels.items())
                ]
                return JSONResponse(found)
            if namespace in self.payment_required:
                return JSONResponse(
                    {"error": "Payment required: add a payment method to run jobs"}, 402
                )
            spec = await request.json()
            if spec.get("flavor") not in {h["name"] for h in HARDWARE}:
                return JSONResponse({"error": f"Invalid flavor {spec.get('flavor')!r}"}, 400)
            job = FakeJob(id=secrets.token_hex(12), namespace=namespace, spec=spec)
            self.jobs[job.id] = job
            threading.Thread(target=self._run, args=(job,), daemon=True).start()
            return JSONResponse(job.info(self._owner()))

        def lookup(request: Request) -> FakeJob | Response:
            if not self._authorized(request):
                return denied()
            job = self.jobs.get(request.path_params["job_id"])
            if job is None or job.namespace != request.path_params["namespace"]:
                return JSONResponse({"error": "Job not found"}, 404)
            return job

        async def job_info(request: Request) -> Response:
            found = lookup(request)
            return found if isinstance(found, Response) else JSONResponse(found.info(self._owner()))

        async def cancel(request: Request) -> Response:
            found = lookup(request)
            if isinstance(found, Response):
                return found
            if found.process is not None and found.process.poll() is None:
                os.killpg(found.process.pid, signal.SIGTERM)
            with self.lock:
                if not found.finished:
                    found.stage, found.finished_at = "CANCELED", _now()
            return Response(status_code=200)

        async def logs(request: Request) -> Response:
            found = lookup(request)
            if isinstance(found, Response):
                return found

            async def events() -> AsyncIterator[str]:
                sent = 0
                yield _sse(found.created_at, f"===== Job started at {found.created_at} =====")
                while True:
                    with self.lock:
                        batch, finished = found.logs[sent:], found.finished
                    for stamp, line in batch:
                        yield _sse(stamp, line)
                    sent += len(batch)
                    if finished:
                        return
                    # A running job's stream stays open, as the real one does.
                    await asyncio.sleep(0.1)

            return StreamingResponse(events(), media_type="text/event-stream")

        return Starlette(
            routes=[
                Route("/api/whoami-v2", whoami),
                Route("/api/jobs/hardware", hardware),
                Route("/api/jobs/{namespace}", jobs, methods=["GET", "POST"]),
                Route("/api/jobs/{namespace}/{job_id}", job_info),
                Route("/api/jobs/{namespace}/{job_id}/cancel", cancel, methods=["POST"]),
                Route("/api/jobs/{namespace}/{job_id}/logs", logs),
            ]
        )

    def _run(self, job: FakeJob) -> None:
        time.sleep(0.2)  # scheduling
        with self.lock:
            if job.finished:
                return
            job.stage, job.started_at = "RUNNING", _now()
        if not self.execute:
            return
        env = {"PATH": os.environ["PATH"], "HOME": tempfile.gettempdir()}
        env.update(job.spec.get("environment", {}))
        env.update(job.spec.get("secrets", {}))
        job.process = subprocess.Popen(
            [*job.spec["command"], *job.spec.get("arguments", [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=tempfile.gettempdir(),
            start_new_session=True,
        )
        assert job.process.stdout is not None
        for line in job.process.stdout:
            with self.lock:
                job.logs.append((_now(), line.rstrip("\n")))
        code = job.process.wait()
        with self.lock:
            if not job.finished:
                job.stage = "COMPLETED" if code == 0 else "ERROR"
                job.message = None if code == 0 else f"Job failed with exit code: {code}"
                job.finished_at = _now()


def _sse(stamp: str, line: str) -> str:
    return f"data: {json.dumps({'data': line, 'timestamp': stamp})}\n\n"


@contextlib.contextmanager
def fake_hf_jobs(token: str, **kwargs: Any) -> Iterator[FakeHfJobs]:
    with FakeHfJobs(token, **kwargs) as fake:
        yield fake
