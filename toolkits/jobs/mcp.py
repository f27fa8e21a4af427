"""MCP layer of the jobs toolkit: schemas, annotations, progress, rendering."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

import anyio
from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext
from toolkits.jobs import models as m
from toolkits.jobs.core import JobService, build_spec
from toolkits.jobs.models import TERMINAL_STATUSES
from toolkits.jobs.preflight_tool import register_preflight
from toolkits.jobs.views import (
    HardwareView,
    JobListView,
    JobView,
    LogsView,
    WaitView,
    job_view,
    summary,
)

INSTRUCTIONS = (
    "Run training jobs that outlive the conversation, locally, on Hugging Face Jobs or on Ray. "
    "jobs_submit returns a job_id at once; then jobs_status (health at a glance), jobs_wait "
    "(blocks up to 55 s), jobs_logs (a bounded window; follow with offset)."
)
T = TypeVar("T")

JobId = Annotated[
    str, Field(min_length=1, max_length=64, description="The job_id jobs_submit returned.")
]
MAX_WAIT_S = 55


async def _in_thread(ctx: Context, work: Callable[[], T], label: str) -> T:
    """Run blocking ``work`` in a worker thread, sending a progress notification each second
    it takes (hf and ray calls, uploads)."""
    started = time.monotonic()

    async def heartbeat() -> None:
        while True:
            await anyio.sleep(1.0)
            elapsed = time.monotonic() - started
            await ctx.report_progress(elapsed, None, f"{label} ({elapsed:.0f}s)")

    outcome: dict[str, object] = {}
    async with anyio.create_task_group() as group:
        group.start_soon(heartbeat)
        try:
            outcome["value"] = await anyio.to_thread.run_sync(work)
        except Exception as exc:  # raised below: a task group would wrap it in a group
            outcome["error"] = exc
        group.cancel_scope.cancel()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("jobs", ctx, INSTRUCTIONS)
    settings, toolkit_ctx = ctx.settings, ctx  # tool functions take their own `ctx: Context`
    lock = threading.Lock()
    services: list[JobService] = []

    def service() -> JobService:
        # Created on first use (building the server touches no file). The first look also
        # reconciles jobs that ended, or died, while no server was running.
        with lock:
            if not services:
                services.append(JobService(settings, toolkit_ctx.store))
                services[0].refresh_active("local")
            return services[0]

    def status_view(job_id: str) -> JobView:
        jobs = service()
        job = jobs.refresh(job_id)
        return job_view(job, jobs.health(job))

    # Destructive because on hf a submission spends money (the approval policy of a host keys
    # on this hint); open-world because hf and ray reach other machines.
    @toolkit.tool(
        name="submit",
        title="Submit a training job",
        read_only=False,
        destructive=True,
        idempotent=False,
        open_world=True,
    )
    async def submit(
        ctx: Context,
        backend: m.BackendName = "local",
        script: m.Script = None,
        command: m.Command = None,
        script_args: m.ScriptArgs = [],  # noqa: B006 - pydantic copies defaults
        dependencies: m.Dependencies = [],  # noqa: B006
        working_dir: m.WorkingDir = None,
        config_file: m.ConfigFile = None,
        env: m.Env = {},  # noqa: B006
        secrets: m.Secrets = [],  # noqa: B006
        flavor: m.Flavor = None,
        resources: Annotated[
            m.Resources | None,
            Field(description="local/ray: cpus, gpus, memory_gb the job needs."),
        ] = None,
        image: m.Image = None,
        timeout: m.Timeout = None,  # noqa: ASYNC109 - the job's limit, not this call's
        name: m.JobName = None,
        labels: m.Labels = {},  # noqa: B006
        namespace: m.Namespace = None,
    ) -> JobView:
        """Start a job (a Python script or a shell command) and return its job_id immediately.

        Never waits for the job: follow it with jobs_status, jobs_wait and jobs_logs. backend
        'local' (default) runs a detached process on the server machine (it survives server
        restarts; jobs beyond the concurrency limit are queued); 'hf' runs on Hugging Face Jobs
        (paid: pick a flavor, see jobs_hardware); 'ray' submits to the Ray cluster. The job gets
        $MLINTERN_JOB_ID, $MLINTERN_METRICS_DIR (write TensorBoard/trackio logs there so
        jobs_status can report the last step) and $MLINTERN_CONFIG_FILE when config_file is set.
        Credentials are never passed unless named in secrets. Local jobs run isolated unless
        the operator turned it off: working_dir writable, internet but no local addresses,
        no other host files.
        """
        spec = build_spec(
            backend=backend,
            script=script,
            command=command,
            script_args=script_args,
            dependencies=dependencies,
            working_dir=working_dir,
            config_file=config_file,
            env=env,
            secrets=secrets,
            flavor=flavor,
            resources=resources,
            image=image,
            timeout=timeout,
            name=name,
            labels=labels,
            namespace=namespace,
        )
        job = await _in_thread(ctx, lambda: service().submit(spec), f"submitting to {backend}")
        return job_view(job, hint=f"submitted. {_follow_hint(job.job_id)}")

    @toolkit.tool(
        name="status",
        title="Job status and health",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def status(job_id: JobId, ctx: Context) -> JobView:
        """Status of a job (queued, running, completed, failed, cancelled, lost), exit code,
        timings, hardware, its URL when remote, and health: whether its process is alive, when
        it last wrote a log line (and that line), and the last metric step it logged. Cheap:
        use it instead of reading logs to check that a run is progressing."""
        return await _in_thread(ctx, lambda: status_view(job_id), "reading job status")

    @toolkit.tool(
        name="wait",
        title="Wait for a job",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def wait(
        job_id: JobId,
        ctx: Context,
        timeout_s: Annotated[
            float, Field(ge=1, le=MAX_WAIT_S, description="Longest wait in seconds (<= 55).")
        ] = 30,
        until: Annotated[
            Literal["finished", "status_change"],
            Field(description="'finished': until the job ends; 'status_change': any change."),
        ] = "finished",
    ) -> WaitView:
        """Wait (at most timeout_s, up to 55 s) until the job finishes or its status changes,
        sending progress notifications meanwhile, then return its status and health. Call it
        again to keep waiting; for long runs, check back later instead of waiting in a loop."""
        jobs = service()
        started = time.monotonic()
        job = await anyio.to_thread.run_sync(functools.partial(jobs.refresh, job_id))
        initial = job.status

        def reached() -> bool:
            if until == "finished":
                return job.status in TERMINAL_STATUSES
            return job.status != initial

        interval = jobs.poll_interval(job)
        next_poll = started + interval
        while not reached():
            now = time.monotonic()
            if now - started >= timeout_s:
                break
            await anyio.sleep(max(0.0, min(next_poll, started + timeout_s, now + 1.0) - now))
            if time.monotonic() >= next_poll:
                job = await anyio.to_thread.run_sync(functools.partial(jobs.refresh, job_id))
                next_poll = time.monotonic() + interval
            elapsed = time.monotonic() - started
            await ctx.report_progress(
                min(elapsed, timeout_s), timeout_s, f"{job_id} {job.status} ({elapsed:.0f}s)"
            )
        health = await anyio.to_thread.run_sync(functools.partial(jobs.health, job))
        view = job_view(job, health)
        return WaitView(
            **view.model_dump(),
            waited_s=round(time.monotonic() - started, 1),
            reached=reached(),
            until=until,
        )

    @toolkit.tool(
        name="logs",
        title="Read a job's log",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def logs(
        job_id: JobId,
        ctx: Context,
        tail: Annotated[
            int, Field(ge=1, le=2000, description="Lines to return (the last ones by default).")
        ] = 100,
        offset: Annotated[
            int | None,
            Field(
                ge=0,
                le=2**50,
                description="Read forward from this byte offset (a next_offset from an earlier "
                "call) instead of the tail.",
            ),
        ] = None,
        grep: Annotated[
            str | None,
            Field(
                max_length=200,
                description="Only lines containing this text (case-insensitive; literal unless "
                "regex=true).",
            ),
        ] = None,
        regex: Annotated[
            bool,
            Field(description="Treat grep as a regular expression (time-limited to ~1.5 s)."),
        ] = False,
    ) -> LogsView:
        """A bounded window of the job's combined stdout/stderr: by default its last `tail`
        lines; with offset, the lines from there on. Progress bars and repeated lines are
        collapsed, secrets are redacted. next_offset continues reading (or follows a running
        job: call again with offset=next_offset to get only new lines)."""
        # Leave room under the server's output cap for the header and hint lines.
        budget = max(2_000, settings.max_output_chars - 1_000)
        page = await _in_thread(
            ctx,
            lambda: service().logs(
                job_id, tail=tail, offset=offset, grep=grep, regex=regex, max_chars=budget
            ),
            "reading logs",
        )
        return LogsView.model_validate(page.model_dump())

    @toolkit.tool(
        name="list",
        title="List jobs",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def list_jobs(
        ctx: Context,
        status: Annotated[
            m.JobStatus | None, Field(description="Only jobs in this status.")
        ] = None,
        backend: Annotated[m.BackendName | None, Field(description="Only this backend.")] = None,
        label: Annotated[
            str | None, Field(max_length=201, description="'key' or 'key=value' label filter.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Jobs per page.")] = 20,
        offset: Annotated[int, Field(ge=0, le=1_000_000, description="Jobs to skip.")] = 0,
    ) -> JobListView:
        """Jobs this server knows, newest first, with status, exit code and runtime. Statuses
        of unfinished jobs are refreshed from their backends first."""

        def work() -> JobListView:
            jobs, total, notes = service().list_page(
                status=status, backend=backend, label=label, limit=limit, offset=offset
            )
            more = offset + len(jobs) < total
            return JobListView(
                jobs=[summary(job) for job in jobs],
                total=total,
                offset=offset,
                next_offset=offset + len(jobs) if more else None,
                notes=notes,
            )

        return await _in_thread(ctx, work, "listing jobs")

    @toolkit.tool(
        name="cancel",
        title="Cancel a job",
        read_only=False,
        destructive=True,
        idempotent=True,
        open_world=True,
    )
    async def cancel(job_id: JobId, ctx: Context) -> JobView:
        """Stop a job: a local job's whole process tree is terminated (SIGTERM, then SIGKILL
        after a grace period); a remote job is cancelled on Hugging Face or stopped on Ray. A
        job that already ended is left as it is."""

        def work() -> JobView:
            jobs = service()
            before = jobs.refresh(job_id)
            job = jobs.cancel(job_id)
            hint = f"it had already ended ({before.status})." if before.is_terminal else None
            return job_view(job, jobs.health(job), hint=hint)

        return await _in_thread(ctx, work, "cancelling")

    @toolkit.tool(
        name="hardware",
        title="Hardware for jobs",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def hardware(ctx: Context, backend: m.BackendName = "local") -> HardwareView:
        """What a backend can run on. local: CPUs, memory and GPUs of the server machine and
        how many jobs run; hf: the hardware flavors with hourly prices; ray: the cluster's
        nodes and resources."""
        report = await _in_thread(ctx, lambda: service().hardware(backend), "asking for hardware")
        return HardwareView.model_validate(report.model_dump())

    register_preflight(toolkit, settings, _in_thread)
    return toolkit.mcp


def _follow_hint(job_id: str) -> str:
    ref = f"job_id={job_id!r}"
    return f"Follow with jobs_status({ref}), jobs_wait({ref}) or jobs_logs({ref})."
