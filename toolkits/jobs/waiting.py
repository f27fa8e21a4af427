"""Waiting on a job inside one tool call, and running blocking calls with a heartbeat.

Both are async (they report progress to the caller while they wait), so they live beside the
MCP layer rather than in the synchronous core.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import anyio

from toolkits.jobs.core import JobService
from toolkits.jobs.models import TERMINAL_STATUSES, JobRecord

T = TypeVar("T")
Until = Literal["finished", "status_change"]
Progress = Callable[[float, float | None, str], Awaitable[None]]
MAX_WAIT_S = 55


async def in_thread(report: Progress, work: Callable[[], T], label: str) -> T:
    """Run blocking ``work`` in a worker thread, reporting progress each second it takes
    (hf and ray calls, uploads)."""
    started = time.monotonic()

    async def heartbeat() -> None:
        while True:
            await anyio.sleep(1.0)
            elapsed = time.monotonic() - started
            await report(elapsed, None, f"{label} ({elapsed:.0f}s)")

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


async def wait_for(
    jobs: JobService, job_id: str, wait_s: float, until: Until, report: Progress
) -> tuple[JobRecord, float, bool]:
    """Poll ``job_id`` (at the backend's pace) for up to ``wait_s`` seconds until it ends
    (``finished``) or changes status; returns the job, seconds waited and whether it happened."""
    started = time.monotonic()
    refresh = functools.partial(jobs.refresh, job_id)
    job = await anyio.to_thread.run_sync(refresh)
    initial = job.status

    def reached() -> bool:
        if until == "finished":
            return job.status in TERMINAL_STATUSES
        return job.status != initial

    interval = jobs.poll_interval(job)
    next_poll = started + interval
    while not reached():
        now = time.monotonic()
        if now - started >= wait_s:
            break
        await anyio.sleep(max(0.0, min(next_poll, started + wait_s, now + 1.0) - now))
        if time.monotonic() >= next_poll:
            job = await anyio.to_thread.run_sync(refresh)
            next_poll = time.monotonic() + interval
        elapsed = time.monotonic() - started
        await report(min(elapsed, wait_s), wait_s, f"{job_id} {job.status} ({elapsed:.0f}s)")
    return job, round(time.monotonic() - started, 1), reached()
