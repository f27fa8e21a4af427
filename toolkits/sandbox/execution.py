"""Turning one finished exec into what the model reads: why it ended, and what to do about it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections.abc import Awaitable, Callable

from server.errors import UserError
from server.redact import is_secret_name, redact
from toolkits.sandbox.backends.base import ExecOutcome
from toolkits.sandbox.models import KillReason, StreamOutput
from toolkits.sandbox.output import OutputCapture

Progress = Callable[[float, float | None, str], Awaitable[None]]

PROGRESS_EVERY_S = 1.0
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# What allocators and runtimes print when RLIMIT_AS refuses them memory.
MEMORY_MARKERS = (
    "MemoryError",
    "Cannot allocate memory",
    "std::bad_alloc",
    "out of memory",
    "Out of memory",
    "failed to allocate",
    "memory exhausted",
)


def check_env(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not ENV_NAME.match(name):
            raise UserError(f"Invalid environment variable name {name!r}: use letters, digits, _.")
        if is_secret_name(name):
            raise UserError(
                f"{name} looks like a credential, and credentials never enter sandboxes. Run "
                f"work that needs it as a job (jobs_submit) or on the host instead."
            )
    return env


def kill_reason(outcome: ExecOutcome, stderr_tail: str) -> KillReason | None:
    if outcome.timed_out:
        return "timeout"
    if outcome.signal == signal.SIGXCPU:
        return "cpu"
    if outcome.signal == signal.SIGXFSZ:
        return "file_size"
    if outcome.exit_code != 0 and any(marker in stderr_tail for marker in MEMORY_MARKERS):
        return "memory"
    if outcome.signal is not None:
        return "signal"
    return None


# What shells and runtimes print when RLIMIT_NPROC refuses a fork.
DISK_FULL_MARKERS = ("No space left on device", "Disk quota exceeded")
PROCESS_LIMIT_MARKERS = ("fork: Resource temporarily unavailable", "fork: retry", "can't fork")


def advice(
    reason: KillReason | None, outcome: ExecOutcome, timeout_s: float, limits: str, stderr: str
) -> list[str]:
    """What to tell the model about how the command ended, beyond its output."""
    notes = []
    if reason == "timeout":
        notes.append(
            f"Stopped after timeout_s={timeout_s:g}; every process of the command was killed. "
            f"Raise timeout_s (max 3600) or run long work with jobs_submit."
        )
    elif reason == "cpu":
        notes.append(
            f"Stopped at the CPU-time limit ({limits}). Create a sandbox with a larger cpu_s."
        )
    elif reason == "memory":
        notes.append(
            f"Ran out of memory at the limit ({limits}). Create a sandbox with a larger memory_mb."
        )
    elif reason == "file_size":
        notes.append("A file grew past the sandbox's file-size limit and the command was stopped.")
    elif reason == "signal":
        notes.append(
            f"Ended by {signal_name(outcome.signal)}. SIGKILL without a timeout usually means the "
            f"CPU hard limit or the kernel's out-of-memory killer."
        )
    if any(marker in stderr for marker in DISK_FULL_MARKERS):
        notes.append(
            "The workspace is at its disk quota (space or number of files; see sandbox_list): "
            "delete files it no longer needs, or keep large data outside the sandbox."
        )
    if any(marker in stderr for marker in PROCESS_LIMIT_MARKERS):
        notes.append(f"The command hit the process limit ({limits}): new processes were refused.")
    return notes


def signal_name(number: int | None) -> str | None:
    if number is None:
        return None
    with contextlib.suppress(ValueError):
        return signal.Signals(number).name
    return f"signal {number}"


def stream_view(capture: OutputCapture, saved_to: str | None) -> StreamOutput:
    return StreamOutput(
        text=capture.text(),
        total_bytes=capture.total_bytes,
        truncated=capture.truncated,
        saved_to=saved_to,
        tail_start_line=capture.tail_start_line if capture.truncated else None,
    )


def saved_hint(sandbox_id: str, name: str, stream: StreamOutput, capture: OutputCapture) -> str:
    if stream.saved_to:
        return (
            f"{name} was {stream.total_bytes} bytes; the full text is in {stream.saved_to}: "
            f"sandbox_files(sandbox_id='{sandbox_id}', path='{stream.saved_to}', "
            f"offset={stream.tail_start_line or 1})."
        )
    why = capture.spill_error or "it was too large to keep"
    return f"{name} was {stream.total_bytes} bytes; only its head and tail are shown ({why})."


@contextlib.asynccontextmanager
async def progress_ticker(
    progress: Progress | None, timeout_s: float, stdout: OutputCapture, stderr: OutputCapture
):
    """Report progress every second while the body runs (a long exec must show it is alive)."""
    if progress is None:
        yield
        return
    started = time.monotonic()

    async def tick() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            elapsed = time.monotonic() - started
            message = (
                f"running {elapsed:.0f}s of {timeout_s:g}s; {stdout.total_bytes} bytes stdout, "
                f"{stderr.total_bytes} bytes stderr"
            )
            last = stdout.last_line()
            if last:
                message += f"; last line: {redact(last)}"
            with contextlib.suppress(Exception):  # a client that went away must not fail the exec
                await progress(round(elapsed, 1), timeout_s, message)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
