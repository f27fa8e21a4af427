"""A server killed with SIGKILL loses no job: a new server on the same home reports it right."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from fastmcp import Client
from helpers import free_port, poll_until, running, server_cmd, test_env, wait_for_http
from jobs_support import call

from toolkits.jobs.backends import local_runner

TICKS = 20
TICKER = f"""
import sys, time
for i in range({TICKS}):
    print(f"tick {{i}}", flush=True)
    time.sleep(0.3)
sys.exit(7)
"""


def serve_http(home: Path, port: int, log: Path):
    cmd = server_cmd("--transport", "http", "--port", str(port), "--toolsets", "jobs")
    return running(cmd, env=test_env(home), stderr=log.open("ab"))


def runner_of(home: Path, job_id: str) -> dict:
    return local_runner.read_record(home / "jobs" / job_id)


async def test_jobs_outlive_a_killed_server_and_are_reported_after_restart(
    tmp_path: Path, workdir: Path
) -> None:
    home, log = tmp_path / "home", tmp_path / "server.log"
    (workdir / "ticker.py").write_text(TICKER)
    (workdir / "sleeper.py").write_text("import time\ntime.sleep(300)\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with serve_http(home, port, log) as server:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=server)
        async with Client(url) as c:
            ticker = (await call(c, "jobs_submit", {"script": str(workdir / "ticker.py")}))[
                "job_id"
            ]
            sleeper = (await call(c, "jobs_submit", {"script": str(workdir / "sleeper.py")}))[
                "job_id"
            ]
        await poll_until(
            lambda: "tick 2" in (home / "jobs" / ticker / "output.log").read_text(), 30, "ticks"
        )
        # Both runners have recorded who they are (the sleeper's may lag the ticker's output).
        await poll_until(
            lambda: all("runner_pid" in runner_of(home, job) for job in (ticker, sleeper)),
            30,
            "both runner records",
        )
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)

    # The server is gone; its jobs are not.
    ticker_runner, sleeper_runner = runner_of(home, ticker), runner_of(home, sleeper)
    assert local_runner.is_alive(ticker_runner["runner_pid"], ticker_runner["runner_start"])
    # While no server runs, the sleeper dies without a trace (as in an OOM kill or a reboot).
    # The runner first, so that it cannot record the end of its child.
    victims = local_runner.tree_pids(sleeper_runner["runner_pid"])
    os.kill(sleeper_runner["runner_pid"], signal.SIGKILL)
    for pid in victims - {sleeper_runner["runner_pid"]}:
        # An isolated job's bubblewrap dies with the runner and takes its namespace along.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    await poll_until(
        lambda: not local_runner.tree_pids(sleeper_runner["runner_pid"]), 10, "sleeper death"
    )

    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with serve_http(home, port, log) as server:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=server)
        async with Client(url) as c:
            status = await call(c, "jobs_status", {"job_id": ticker})
            if status["status"] == "running":  # the usual case: restarted within seconds
                assert status["health"]["process_alive"] is True
            else:
                assert status["status"] == "failed"
            lost = await call(c, "jobs_status", {"job_id": sleeper})
            assert lost["status"] == "lost"
            assert "no exit record" in lost["message"]
            done = await call(c, "jobs_status", {"job_id": ticker, "wait_s": 30})
            assert (done["status"], done["exit_code"]) == ("failed", 7)
            logs = (await call(c, "jobs_logs", {"job_id": ticker, "grep": "^tick", "regex": True}))[
                "text"
            ]
    # Intact: every line once, in order, across the crash and the restart.
    assert logs.splitlines() == [f"tick {i}" for i in range(TICKS)]
