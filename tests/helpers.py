"""Helpers shared by the test suite: free ports, subprocess servers stopped by PID, MCP clients."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio
import httpx

if TYPE_CHECKING:
    from fastmcp import Client, FastMCP

ERAS = ("legacy", "2026-07-28")  # the 2025-11-25 handshake era and the sessionless era
REPO = Path(__file__).resolve().parents[1]


def readline_within(stream: IO[str], timeout: float = 30.0) -> str:
    """One line from a child's pipe, or TimeoutError: a silent child must fail the test, not
    hang it (a thread, because select() cannot see what the text wrapper already buffered)."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line:
        raise TimeoutError(f"no line from the child process within {timeout}s")
    return line[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


async def poll_until(
    predicate: Callable[[], bool], limit_s: float, what: str, step: float = 0.1
) -> None:
    """Wait for ``predicate`` inside an async test, with a deadline: the event loop (the
    in-memory server, progress handlers) keeps running while we wait, unlike ``time.sleep``."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s}s waiting for {what}")
        await anyio.sleep(step)


def test_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for child processes: no real credentials, state under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_API_KEY"))}
    env.update(
        MLINTERN_HOME=str(home),
        FASTMCP_SHOW_SERVER_BANNER="false",
        FASTMCP_CHECK_FOR_UPDATES="off",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


test_env.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@contextlib.contextmanager
def running(cmd: Sequence[str], env: dict[str, str], **popen) -> Iterator[subprocess.Popen]:
    """Start ``cmd`` in its own process group; on exit kill that group by PID (never by name)."""
    proc = subprocess.Popen(list(cmd), env=env, start_new_session=True, **popen)
    try:
        yield proc
    finally:
        stop_pid(proc)


def stop_pid(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(grace)


def server_cmd(*args: str) -> list[str]:
    """``mlintern-server`` as installed (console script next to this interpreter)."""
    script = Path(sys.executable).with_name("mlintern-server")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "server.cli", *args]


def client(server: FastMCP, era: str = "2026-07-28", **kwargs: Any) -> Client:
    """An in-memory MCP client for ``server`` speaking the given protocol era.

    Lives here rather than in conftest.py: several test folders have a conftest of their own,
    and ``from conftest import ...`` would pick whichever pytest loaded last.
    """
    from fastmcp import Client

    return Client(server, mode=era, **kwargs)


def job_folder(path: Path) -> Path:
    """A folder a local job can work in under isolation (the default): created, and owned by the
    uid isolated jobs of a root server run as (65534), as an operator prepares one. A `command`
    job sees its working dir, so its scripts and configs go in here."""
    from toolkits.sandbox.backends.local import unprivileged_identity

    path.mkdir(parents=True, exist_ok=True)
    job_uid = unprivileged_identity()
    if job_uid is not None:
        os.chown(path, *job_uid)
    return path


def python_probe(code: str, home: Path, timeout: float = 180) -> Any:
    """Run ``code`` in a fresh interpreter (clean ``sys.modules``) with state under ``home``;
    its last line of output, parsed as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=test_env(home),
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])
