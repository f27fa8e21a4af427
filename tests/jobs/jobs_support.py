"""Helpers for the jobs tests: waiting on jobs, a local Ray head, and leaving no process behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastmcp import Client, FastMCP
from fastmcp.client.client import CallToolResult
from helpers import REPO, test_env, wait_for_http
from mcp.types import TextContent

from server.settings import Settings
from server.toolkit import ToolkitContext
from toolkits.jobs import build
from toolkits.jobs.backends import local_runner
from toolkits.jobs.core import JobService
from toolkits.jobs.models import JobRecord

TRAIN = REPO / "examples" / "train.py"


def jobs_server(settings: Settings) -> FastMCP:
    """The jobs toolkit mounted under its namespace, as build_server mounts it."""
    server = FastMCP("mlintern-jobs-test")
    server.mount(
        build(ToolkitContext(settings=settings, read_only=settings.read_only)), namespace="jobs"
    )
    return server


def mcp_client(server: FastMCP, era: str = "2026-07-28", **kwargs: object) -> Client:
    # tests/conftest.py has the same helper, but "from conftest import" would pick this
    # directory's conftest.py.
    return Client(server, mode=era, **kwargs)  # type: ignore[arg-type]


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must succeed; its structured result."""
    result = await client.call_tool(tool, args or {})
    assert result.structured_content is not None, f"{tool} returned no structured content"
    return result.structured_content


async def call_error(client: Client, tool: str, args: dict[str, Any]) -> str:
    """Call a tool that must fail; the error text the model would read."""
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert result.is_error, f"{tool}({args}) should have failed"
    return text_of(result)


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_terminal(service: JobService, job_id: str, timeout: float = 60) -> JobRecord:
    seen: list[JobRecord] = []

    def done() -> bool:
        seen[:] = [service.refresh(job_id)]
        return seen[0].is_terminal

    wait_for(done, timeout, f"job {job_id} to end")
    return seen[0]


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting to be reaped counts as gone)."""
    return not local_runner.is_alive(pid)


def stop_leftover_jobs(home: Path) -> None:
    """Kill, by their recorded pids, local jobs a test left running under ``home``."""
    for record_file in (home / "jobs").glob(f"*/{local_runner.RECORD_FILE}"):
        record = local_runner.read_record(record_file.parent)
        pid = record.get("runner_pid")
        alive = local_runner.is_alive(pid, record.get("runner_start"))
        if pid and "exit_code" not in record and alive:
            local_runner.terminate_tree(pid, grace_s=2)


# --- a real local Ray head -------------------------------------------------------------------
def _free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(count):  # held open together so that the OS hands out distinct ports
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in sockets:
        sock.close()
    return ports


def _session_members(session: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                members.append(int(entry))
    return members


@contextlib.contextmanager
def _ray_head_once(startup_timeout: float) -> Iterator[str]:
    """A Ray head on free ports with its own temp dir; yields the dashboard (Jobs API) URL.

    Stopped by the pid of the process this starts: ``ray stop`` would kill every Ray process
    on the machine. Ray workers put themselves in process groups of their own but stay in the
    session started here, so the session is what gets killed.
    """
    # Short path: Ray's unix sockets live under the temp dir and have a length limit.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    gcs, dashboard, objects, node, client, agent, agent_grpc, env_agent, metrics = _free_ports(9)
    workers = _free_ports(1)[0]
    cmd = [
        shutil.which("ray") or "ray",
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--object-manager-port={objects}",
        f"--node-manager-port={node}",
        f"--ray-client-server-port={client}",
        f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--runtime-env-agent-port={env_agent}",
        f"--metrics-export-port={metrics}",
        f"--min-worker-port={min(workers, 65000)}",
        f"--max-worker-port={min(workers, 65000) + 200}",
        f"--temp-dir={temp_dir}",
        "--num-cpus=2",
        "--disable-usage-stats",
    ]
    env = test_env(temp_dir / "home", RAY_USAGE_STATS_ENABLED="0")
    log = (temp_dir / "head.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{dashboard}"
    try:
        try:
            wait_for_http(f"{url}/api/version", timeout=startup_timeout, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            log.flush()
            tail = (temp_dir / "head.log").read_text(errors="replace")[-3000:]
            raise RayHeadFailed(f"{exc}\n--- ray head log (tail) ---\n{tail}") from None
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for _ in range(20):
            members = _session_members(proc.pid)
            if not members:
                break
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


class RayHeadFailed(RuntimeError):
    pass


@contextlib.contextmanager
def local_ray_head(startup_timeout: float = 90, attempts: int = 2) -> Iterator[str]:
    """``_ray_head_once``, tried again on fresh ports if the head dies while starting.

    Free ports are picked before Ray binds them, so on a busy machine another process can take
    one in between and the head exits; the second attempt's error carries the head's log.
    """
    for attempt in range(1, attempts + 1):
        try:
            with _ray_head_once(startup_timeout) as url:
                yield url
                return
        except RayHeadFailed:
            if attempt == attempts:
                raise
