"""The queue moves with no server: a finished job's runner starts the next queued one (issue 12).

Real processes throughout: an HTTP server is started, given two jobs beyond a limit of one,
and killed with SIGKILL; the first job then ends on its own and the second must start and
finish. A third job names a secret, which no runner holds (secrets never rest on disk): it
waits, says why, and runs once a server is back.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from fastmcp import Client
from helpers import free_port, running, server_cmd, test_env, wait_for_http
from jobs_support import call, wait_for

from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.backends import local_runner
from toolkits.jobs.core import JobService

SECRET = "tok-queue-fake-0123456789abcdef"
SCRIPTS = {
    "first.py": "import os, time\nwhile not os.path.exists('release'): time.sleep(0.1)\n",
    "second.py": "print('second ran')\n",
    "secretive.py": "import os\nprint('secret has', len(os.environ['MY_API_TOKEN']), 'chars')\n",
}


def serve(home: Path, log: Path, port: int):
    cmd = server_cmd("--transport", "http", "--port", str(port), "--toolsets", "jobs")
    env = test_env(home, MLINTERN_JOBS_MAX_CONCURRENT="1", MY_API_TOKEN=SECRET)
    return running(cmd, env=env, stderr=log.open("ab"))


def ended(home: Path, job_id: str) -> bool:
    record = local_runner.read_record(home / "jobs" / job_id)
    return "exit_code" in record and not local_runner.is_alive(record["runner_pid"])


async def test_a_queued_job_starts_when_the_running_one_ends_with_no_server(
    tmp_path: Path, workdir: Path
) -> None:
    for name, text in SCRIPTS.items():
        (workdir / name).write_text(text)
    home, log, port = tmp_path / "home", tmp_path / "server.log", free_port()
    with serve(home, log, port) as server:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=server)
        async with Client(f"http://127.0.0.1:{port}/mcp") as c:
            jobs = [
                await call(c, "jobs_submit", {"script": str(workdir / name), **extra})
                for name, extra in (
                    ("first.py", {}),
                    ("second.py", {}),
                    ("secretive.py", {"secrets": ["MY_API_TOKEN"]}),
                )
            ]
        first, second, secretive = (job["job_id"] for job in jobs)
        assert [job["status"] for job in jobs] == ["running", "queued", "queued"]
        assert "names secrets" in jobs[2]["message"]
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)

    # No server process is left; the first job ends, and its runner starts the second.
    (workdir / "release").touch()
    wait_for(lambda: ended(home, first), 60, "the first job to end")
    wait_for(lambda: ended(home, second), 60, "the second job to start and end, with no server")
    assert "second ran" in (home / "jobs" / second / "output.log").read_text()
    settings = Settings(home=home, _env_file=None)  # type: ignore[call-arg]
    service = JobService(settings, StateStore(settings.state_path))
    with service.jobs.reading() as conn:
        records = {job_id: service.jobs.get(conn, job_id) for job_id in (first, second, secretive)}
    assert records[first].status == "completed" and records[second].status == "completed"
    # The secretive job waits for a server, and says so; no runner ever started it.
    assert records[secretive].status == "queued"
    assert "only a running mlintern server holds" in (records[secretive].message or "")
    assert local_runner.read_record(home / "jobs" / secretive) == {}

    port = free_port()
    with serve(home, log, port) as server:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=server)
        async with Client(f"http://127.0.0.1:{port}/mcp") as c:
            done = await call(c, "jobs_status", {"job_id": secretive, "wait_s": 55})
            logs = await call(c, "jobs_logs", {"job_id": secretive})
    assert done["status"] == "completed", done
    assert f"secret has {len(SECRET)} chars" in logs["text"]
    # The secret travelled in memory only: nothing under MLINTERN_HOME holds it.
    holders = [p for p in home.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert holders == []
