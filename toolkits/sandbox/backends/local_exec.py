"""One local exec's process life: spawn it, pump its output, end it and everything it started.

``LocalBackend.exec`` decides *what* runs (argv, environment, limits, network gate); this module
runs it: nothing of the command may outlive the call, on timeout or cancellation either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from server.errors import UserError
from toolkits.sandbox.backends.base import ExecRequest, SandboxRef
from toolkits.sandbox.backends.limits import kill_marked
from toolkits.sandbox.backends.usernet import ExecGate, attach
from toolkits.sandbox.output import OutputCapture

CHUNK = 64 * 1024
DRAIN_S = 2.0  # how long to wait for pipes to close once every process is gone


async def spawn(
    sandbox: SandboxRef,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    with_stdin: bool,
    preexec: Callable[[], Any] | None,
    network: ExecGate | None,
    options: Mapping[str, Any],
) -> asyncio.subprocess.Process:
    """Start ``argv`` in the workspace in its own process group, behind the network gate.

    Raises UserError when the workspace itself is gone from disk.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if with_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=sandbox.workspace,
            start_new_session=True,
            preexec_fn=preexec,
            pass_fds=network.pass_fds() if network else (),
            **options,
        )
    except FileNotFoundError:
        if network:
            await network.stop()
        if await asyncio.to_thread(os.path.isdir, sandbox.workspace):
            raise
        raise UserError(
            f"The workspace of {sandbox.sandbox_id} is gone from disk ({sandbox.workspace}). "
            f"Destroy it with sandbox_destroy and create a new one with sandbox_create."
        ) from None
    if network:
        await attach(network, proc, kill_group)
    return proc


async def supervise(
    proc: asyncio.subprocess.Process,
    request: ExecRequest,
    stdout: OutputCapture,
    stderr: OutputCapture,
    *,
    running: set[asyncio.subprocess.Process],
    marker: str | None,
    network: ExecGate | None,
) -> tuple[bool, list[str]]:
    """Feed stdin, capture output, wait up to the timeout; then kill what is left.

    ``marker``: the token that finds leftovers when there is no PID namespace to end them.
    Returns (timed out, notes for the result).
    """
    running.add(proc)
    assert proc.stdout is not None and proc.stderr is not None
    tasks = [
        asyncio.create_task(_pump(proc.stdout, stdout)),
        asyncio.create_task(_pump(proc.stderr, stderr)),
    ]
    if request.stdin is not None and proc.stdin is not None:
        tasks.append(asyncio.create_task(_feed(proc.stdin, request.stdin)))
    timed_out = False
    notes: list[str] = []
    try:
        try:
            await asyncio.wait_for(proc.wait(), request.timeout_s)
        except TimeoutError:
            timed_out = True
            kill_group(proc)
            await proc.wait()
    finally:
        # Runs on cancellation too: nothing of the command may keep running.
        if proc.returncode is None:
            kill_group(proc)
        if marker is not None:
            leftovers = await asyncio.to_thread(kill_marked, marker)
            if leftovers:
                notes.append(f"killed {leftovers} background process(es) it left behind")
        await _drain(tasks)
        running.discard(proc)
        if network:
            await network.stop()
    return timed_out, notes


def kill_group(proc: asyncio.subprocess.Process) -> None:
    # The leader is not reaped yet, so its pid still names this group and no other.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _pump(reader: asyncio.StreamReader, capture: OutputCapture) -> None:
    while chunk := await reader.read(CHUNK):
        capture.feed(chunk)


async def _feed(writer: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        writer.close()


async def _drain(tasks: list[asyncio.Task]) -> None:
    """Let the pipes empty; give up on any still held open by a process we could not reach."""
    done, pending = await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in pending:
        task.cancel()
    for task in done:
        with contextlib.suppress(Exception):
            task.result()
