"""jobs_cancel kills the whole process tree, including processes that left the process group."""

from __future__ import annotations

import json
import time
from pathlib import Path

from helpers import poll_until
from jobs_support import call, jobs_server, mcp_client, pid_gone

from server.settings import Settings

# A job that builds a tree: a child, a grandchild behind a shell, a child that moved to its
# own process group, and one that started a new session (as a daemonising tool would).
TREE_SCRIPT = """
import json, os, subprocess, sys, time
children = [
    subprocess.Popen(["sleep", "300"]),
    subprocess.Popen(["bash", "-c", "sleep 300 & echo $! > grandchild.pid; wait"]),
    subprocess.Popen(["sleep", "301"], process_group=0),
    subprocess.Popen(["sleep", "302"], start_new_session=True),
]
while not os.path.exists("grandchild.pid") or not open("grandchild.pid").read().strip():
    time.sleep(0.05)
pids = [os.getpid()] + [c.pid for c in children] + [int(open("grandchild.pid").read())]
with open("pids.json.tmp", "w") as f:
    json.dump(pids, f)
os.replace("pids.json.tmp", "pids.json")
print("tree ready", flush=True)
time.sleep(300)
"""


def read_pids(workdir: Path) -> list[int]:
    return json.loads((workdir / "pids.json").read_text())


async def test_cancel_kills_every_process_of_the_job(
    settings: Settings, workdir: Path, era: str
) -> None:
    (workdir / "tree.py").write_text(TREE_SCRIPT)
    # It reads host pids from inside the job: only without a PID namespace (isolated jobs:
    # test_jobs_isolation.py).
    settings_unisolated = settings.model_copy(update={"jobs_isolation": "off"})
    async with mcp_client(jobs_server(settings_unisolated), era) as c:
        job = await call(c, "jobs_submit", {"script": "tree.py", "working_dir": str(workdir)})
        await poll_until(lambda: (workdir / "pids.json").exists(), 30, "the job to build its tree")
        pids = read_pids(workdir)
        assert len(pids) == 6 and not any(pid_gone(pid) for pid in pids)
        status = await call(c, "jobs_status", {"job_id": job["job_id"]})
        assert status["health"]["process_alive"] is True
        started = time.monotonic()
        cancelled = await call(c, "jobs_cancel", {"job_id": job["job_id"]})
        assert cancelled["status"] == "cancelled"
        assert time.monotonic() - started < 15
        # Every process is gone, the runner too: nothing is left orphaned.
        gone = [pid for pid in pids if pid_gone(pid)]
        assert gone == pids, f"still running: {set(pids) - set(gone)}"
        again = await call(c, "jobs_cancel", {"job_id": job["job_id"]})
        assert again["status"] == "cancelled"
        assert "already ended" in again["hint"]


async def test_cancel_records_the_end_and_frees_the_slot(settings: Settings, workdir: Path) -> None:
    settings.jobs_max_concurrent = 1
    (workdir / "slow.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(300)\n")
    async with mcp_client(jobs_server(settings)) as c:
        first = await call(c, "jobs_submit", {"script": str(workdir / "slow.py")})
        second = await call(c, "jobs_submit", {"script": str(workdir / "slow.py")})
        third = await call(c, "jobs_submit", {"script": str(workdir / "slow.py")})
        assert [first["status"], second["status"], third["status"]] == [
            "running",
            "queued",
            "queued",
        ]
        # A queued job is cancelled without ever starting.
        dropped = await call(c, "jobs_cancel", {"job_id": third["job_id"]})
        assert dropped["status"] == "cancelled"
        assert dropped["started_at"] is None
        # Cancelling the running one lets the next queued job start.
        await call(c, "jobs_cancel", {"job_id": first["job_id"]})
        now = await call(c, "jobs_status", {"job_id": second["job_id"]})
        assert now["status"] == "running"
        listed = await call(c, "jobs_list", {"status": "cancelled"})
        assert {j["job_id"] for j in listed["jobs"]} == {
            first["job_id"],
            third["job_id"],
        }
        await call(c, "jobs_cancel", {"job_id": second["job_id"]})
