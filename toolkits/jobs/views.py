"""What the jobs tools return: structured results plus the short text a model reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pydantic import Field, computed_field

from server.toolkit import ToolOutput
from toolkits.jobs.models import (
    TERMINAL_STATUSES,
    HardwareReport,
    Health,
    JobRecord,
    LogsPage,
)


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


def runtime_s(job: JobRecord) -> float | None:
    if job.started_at is None:
        return None
    return round((job.ended_at or time.time()) - job.started_at, 1)


class JobSummary(ToolOutput):
    """One line of jobs_list."""

    job_id: str
    name: str | None = None
    backend: str
    status: str
    exit_code: int | None = None
    message: str | None = None
    created_at: str | None = None
    runtime_s: float | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    def line(self) -> str:
        return job_line(
            self.job_id,
            self.name,
            self.backend,
            self.status,
            self.exit_code,
            self.runtime_s,
            self.created_at,
        )


def job_line(
    job_id: str,
    name: str | None,
    backend: str,
    status: str,
    exit_code: int | None,
    runtime: float | None,
    created: str | None,
) -> str:
    code = f" exit={exit_code}" if exit_code is not None else ""
    label = f" {name!r}" if name else ""
    return f"{job_id}{label} [{backend}] {status}{code} · ran {span(runtime)} · created {created}"


class JobView(ToolOutput, JobRecord):
    """A job as the store knows it (times in seconds since the epoch), with its health, what
    to call next and, after a wait, what the wait saw."""

    runtime_s: float | None = None
    health: Health | None = None
    hint: str | None = None
    waited_s: float | None = None
    reached: bool | None = Field(
        default=None, description="After a wait: the awaited condition happened in time."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name(self) -> str | None:  # what jobs_list and the job view call it
        return self.spec.name

    def render(self) -> str:
        lines = [
            job_line(
                self.job_id,
                self.spec.name,
                self.backend,
                self.status,
                self.exit_code,
                self.runtime_s,
                iso(self.created_at),
            )
        ]
        if self.waited_s is not None:
            what = "finished" if self.is_terminal else "changed status"
            lines.insert(
                0,
                f"Job {what} after {self.waited_s:.0f}s of waiting."
                if self.reached
                else f"Still {self.status} after waiting {self.waited_s:.0f}s.",
            )
        if self.message and self.message != self.status:
            lines.append(f"message: {self.message}")
        if self.hardware or self.url:
            lines.append(" · ".join(x for x in (self.hardware, self.url) if x))
        if self.health is not None:
            lines.append(f"health: {describe_health(self.health)}")
        if self.hint:
            lines.append(f"next: {self.hint}")
        return "\n".join(lines)


def describe_health(health: Health) -> str:
    now = time.time()
    parts = []
    if health.process_alive is not None:
        parts.append("process alive" if health.process_alive else "no process")
    if health.last_log_at:
        parts.append(f"last log {span(now - health.last_log_at)} ago: {health.last_log_line!r}")
    if health.last_metric_step is not None:
        when = f", {span(now - health.last_metric_at)} ago" if health.last_metric_at else ""
        parts.append(f"metric step {health.last_metric_step} ({health.metric_source}{when})")
    if health.progress != "ok":
        parts.append(f"{health.progress.upper()}: {health.progress_note}")
    elif health.idle_s is not None and health.idle_s > 600:
        parts.append(f"WARNING: no output for {span(health.idle_s)}")
    return "; ".join(parts) or "no output yet"


def job_view(
    job: JobRecord,
    health: Health | None = None,
    hint: str | None = None,
    waited_s: float | None = None,
    reached: bool | None = None,
) -> JobView:
    return JobView(
        **dict(job),
        runtime_s=runtime_s(job),
        health=health,
        hint=hint if hint is not None else next_steps(job),
        waited_s=waited_s,
        reached=reached,
    )


def summary(job: JobRecord) -> JobSummary:
    return JobSummary(
        job_id=job.job_id,
        name=job.spec.name,
        backend=job.backend,
        status=job.status,
        exit_code=job.exit_code,
        message=job.message,
        created_at=iso(job.created_at),
        runtime_s=runtime_s(job),
        labels=job.spec.labels,
    )


def next_steps(job: JobRecord) -> str:
    ref = f"job_id={job.job_id!r}"
    if job.status in TERMINAL_STATUSES:
        return f"read the output with jobs_logs({ref})"
    return (
        f"jobs_status({ref}, wait_s=55) to wait, jobs_logs({ref}) for output, "
        f"jobs_cancel({ref}) to stop it"
    )


class JobListView(ToolOutput):
    jobs: list[JobSummary]
    total: int
    offset: int
    next_offset: int | None = None
    notes: list[str] = Field(default_factory=list)

    def render(self) -> str:
        if not self.jobs:
            return "No jobs match. Start one with jobs_submit." + "".join(
                f"\nnote: {n}" for n in self.notes
            )
        lines = [f"{self.total} job(s); showing {self.offset + 1}-{self.offset + len(self.jobs)}:"]
        lines += [job.line() for job in self.jobs]
        lines += [f"note: {n}" for n in self.notes]
        if self.next_offset is not None:
            lines.append(f"More: call jobs_list with offset={self.next_offset}.")
        return "\n".join(lines)


class LogsView(ToolOutput, LogsPage):
    def render(self) -> str:
        head = f"[{self.job_id} {self.status} · {self.lines} lines from byte {self.offset}"
        head += f" · {self.collapsed} noise lines collapsed]" if self.collapsed else "]"
        body = self.text if self.text else "(no output in this window)"
        return "\n".join(x for x in (head, body, self.hint) if x)


class HardwareView(ToolOutput, HardwareReport):
    def render(self) -> str:
        lines = [f"{self.backend} hardware (from {self.source}):"]
        if self.cpus is not None:
            memory = f", {self.memory_gb} GB memory" if self.memory_gb else ""
            free = f" ({self.memory_available_gb} GB free)" if self.memory_available_gb else ""
            lines.append(f"{self.cpus:g} CPUs{memory}{free}")
        if self.backend == "local":
            gpus = ", ".join(f"{g.name} ({g.memory_gb} GB)" for g in self.gpus) or "none detected"
            lines.append(f"GPUs: {gpus}")
            lines.append(f"jobs running: {self.running_jobs} of at most {self.max_concurrent}")
        if self.nodes is not None:
            lines.append(f"{self.nodes} node(s); resources: {self.resources}")
        for flavor in self.flavors:
            price = f"${flavor.usd_per_hour:.2f}/h" if flavor.usd_per_hour is not None else "?"
            detail = flavor.accelerator or f"{flavor.cpu or '?'} / {flavor.ram or '?'}"
            lines.append(f"- {flavor.name}: {detail}, {price}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)
