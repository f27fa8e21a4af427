"""MCP layer of the jobs toolkit: a thin tool over each JobService operation.

jobs_submit and jobs_preflight take JobSpec's own fields (server/model_params.py), so the
tool schema is the spec, never a copy of it.
"""

from __future__ import annotations

import threading
from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import Field

from server.model_params import takes_fields
from server.toolkit import Toolkit, ToolkitContext
from toolkits.jobs import models as m
from toolkits.jobs.core import JobService
from toolkits.jobs.preflight_advice import PreflightReport, run_preflight
from toolkits.jobs.views import HardwareView, JobListView, JobView, LogsView, job_view, summary
from toolkits.jobs.waiting import MAX_WAIT_S, in_thread, wait_for

INSTRUCTIONS = (
    "Run training jobs that outlive the conversation, locally, on Hugging Face Jobs or on Ray. "
    "jobs_submit returns a job_id at once; then jobs_status (health at a glance; wait_s blocks "
    "up to 55 s), jobs_logs (a bounded window; follow with offset)."
)
JobId = Annotated[str, Field(min_length=1, max_length=64)]
# What a preflight needs of a job: how to run it, not where or on what.
PREFLIGHT_FIELDS = ("script", "command", "script_args", "working_dir", "config_file", "env")


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

    # Destructive because on hf a submission spends money (the approval policy of a host keys
    # on this hint); open-world because hf and ray reach other machines.
    @toolkit.tool(
        name="submit",
        title="Submit a training job",
        read_only=False,
        destructive=True,
        idempotent=False,
        open_world=True,
        role="jobs.submit",  # the bundled agent's spending cap prices these calls
    )
    @takes_fields(m.JobSpec)
    async def submit(ctx: Context, spec: m.JobSpec) -> JobView:
        """Start a job (script or shell command; hf is paid); returns its job_id at once. It gets
        $MLINTERN_JOB_ID and $MLINTERN_METRICS_DIR (write TensorBoard/trackio logs there);
        credentials only when named in secrets. Local jobs are isolated (no local network).
        Follow it with jobs_status."""
        job = await in_thread(
            ctx.report_progress, lambda: service().submit(spec), f"submitting to {spec.backend}"
        )
        return job_view(job, hint=f"submitted. {_follow_hint(job.job_id)}")

    @toolkit.tool(
        name="status",
        title="Job status and health",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def status(
        job_id: JobId,
        ctx: Context,
        wait_s: Annotated[float, Field(ge=0, le=MAX_WAIT_S)] = 0,
        until: Literal["finished", "status_change"] = "finished",
    ) -> JobView:
        """A job's status, exit code and health (process alive, last log line and metric
        step, stalled or stuck): cheaper than logs. wait_s first waits, with progress, until
        the job finishes (or changes status); call again to keep waiting."""
        jobs = service()
        if not wait_s:
            return await in_thread(
                ctx.report_progress, lambda: _with_health(jobs, jobs.refresh(job_id)), "reading"
            )
        job, waited, reached = await wait_for(jobs, job_id, wait_s, until, ctx.report_progress)
        health = await in_thread(ctx.report_progress, lambda: jobs.health(job), "health")
        return job_view(job, health, waited_s=waited, reached=reached)

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
        tail: Annotated[int, Field(ge=1, le=2000)] = 100,
        offset: Annotated[int | None, Field(ge=0, le=2**50)] = None,
        grep: Annotated[str | None, Field(max_length=200, description="Case-insensitive.")] = None,
        regex: bool = False,
    ) -> LogsView:
        """The job's output (progress bars collapsed, secrets redacted): the last `tail`
        lines, or from byte `offset` on; offset=next_offset reads on or follows the job."""
        # Leave room under the server's output cap for the header and hint lines.
        budget = max(2_000, settings.max_output_chars - 1_000)
        page = await in_thread(
            ctx.report_progress,
            lambda: service().logs(
                job_id, tail=tail, offset=offset, grep=grep, regex=regex, max_chars=budget
            ),
            "reading logs",
        )
        return LogsView(**dict(page))

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
        status: m.JobStatus | None = None,
        backend: m.BackendName | None = None,
        label: Annotated[str | None, Field(max_length=201, description="key[=value]")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0,
    ) -> JobListView:
        """Jobs, newest first, with status, exit code and runtime."""

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

        return await in_thread(ctx.report_progress, work, "listing jobs")

    @toolkit.tool(
        name="cancel",
        title="Cancel a job",
        read_only=False,
        destructive=True,
        idempotent=True,
        open_world=True,
    )
    async def cancel(job_id: JobId, ctx: Context) -> JobView:
        """Stop a job (a local one's whole process tree). An ended job is left as it is."""

        def work() -> JobView:
            jobs = service()
            before = jobs.refresh(job_id)
            job = jobs.cancel(job_id)
            hint = f"it had already ended ({before.status})." if before.is_terminal else None
            return job_view(job, jobs.health(job), hint=hint)

        return await in_thread(ctx.report_progress, work, "cancelling")

    @toolkit.tool(
        name="hardware",
        title="Hardware for jobs",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
        role="jobs.hardware",  # where the spending cap finds hourly prices
    )
    async def hardware(ctx: Context, backend: m.BackendName = "local") -> HardwareView:
        """What a backend can run on: local CPUs, memory, GPUs; hf flavors with hourly
        prices; ray nodes."""
        report = await in_thread(
            ctx.report_progress, lambda: service().hardware(backend), "asking for hardware"
        )
        return HardwareView(**dict(report))

    @toolkit.tool(
        name="preflight",
        title="Preflight a job before paying for it",
        read_only=False,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    @takes_fields(m.JobSpec, only=PREFLIGHT_FIELDS)
    async def preflight(
        ctx: Context,
        spec: m.JobSpec,
        steps: Annotated[int, Field(ge=1, le=100_000)] = 50,
        seconds: Annotated[float, Field(ge=5, le=600)] = 120,
        memory_mb: Annotated[
            int | None, Field(ge=256, le=4_194_304, description="e.g. the target's RAM.")
        ] = None,
    ) -> PreflightReport:
        """Try a job's real script and config here for a few steps before jobs_submit:
        seconds/step, peak host and GPU memory, whether the loss moves, the full run's time
        and cost per hf flavor; out of memory, the cheapest change that fits."""
        fields = spec.model_dump(include=set(PREFLIGHT_FIELDS))
        return await in_thread(
            ctx.report_progress,
            lambda: run_preflight(
                settings, **fields, steps=steps, seconds=seconds, memory_mb=memory_mb
            ),
            "preflight",
        )

    del submit, status, logs, list_jobs, cancel, hardware, preflight
    return toolkit.mcp


def _with_health(jobs: JobService, job: m.JobRecord) -> JobView:
    return job_view(job, jobs.health(job))


def _follow_hint(job_id: str) -> str:
    ref = f"job_id={job_id!r}"
    return f"Follow with jobs_status({ref}, wait_s=55) or jobs_logs({ref})."
