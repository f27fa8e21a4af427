"""Twenty submissions at once: every job is tracked and runs, never more than the limit at once."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from jobs_support import call, jobs_server, mcp_client, wait_for

from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService, build_spec

LIMIT = 3
JOBS = 20
# Each job records when it really ran (by its own clock readings), not what the server thinks.
INTERVAL_SCRIPT = """
import json, os, sys, time
start = time.time()
time.sleep(0.4)
record = {"job": os.environ["MLINTERN_JOB_ID"], "start": start, "end": time.time()}
with open(os.path.join(sys.argv[1], os.environ["MLINTERN_JOB_ID"] + ".json"), "w") as f:
    json.dump(record, f)
"""


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = peak = 0
    for _, delta in events:  # at equal times the end (-1) sorts first: touching is not overlap
        running += delta
        peak = max(peak, running)
    return peak


def read_intervals(out: Path) -> dict[str, tuple[float, float]]:
    records = [json.loads(p.read_text()) for p in out.glob("*.json")]
    return {r["job"]: (r["start"], r["end"]) for r in records}


async def test_twenty_concurrent_submissions_are_all_tracked_within_the_limit(
    settings: Settings, workdir: Path
) -> None:
    settings.jobs_max_concurrent = LIMIT
    (workdir / "interval.py").write_text(INTERVAL_SCRIPT)
    out = workdir / "out"
    out.mkdir()
    out.chmod(0o777)  # isolated jobs run as uid 65534 under root: their output folder
    args = {"script": str(workdir / "interval.py"), "script_args": [str(out)]}
    async with mcp_client(jobs_server(settings)) as c:
        results = await asyncio.gather(
            *(call(c, "jobs_submit", {**args, "name": f"n{i}"}) for i in range(JOBS))
        )
        ids = [r["job_id"] for r in results]
        assert len(set(ids)) == JOBS
        assert sum(r["status"] == "running" for r in results) <= LIMIT

        async def all_done() -> bool:
            page = await call(c, "jobs_list", {"limit": 100})
            return all(j["status"] == "completed" for j in page["jobs"])

        for _ in range(600):
            if await all_done():
                break
            await asyncio.sleep(0.1)
        page = await call(c, "jobs_list", {"limit": 100})
    assert page["total"] == JOBS
    assert {j["job_id"] for j in page["jobs"]} == set(ids)
    assert {j["status"] for j in page["jobs"]} == {"completed"}
    assert {j["name"] for j in page["jobs"]} == {f"n{i}" for i in range(JOBS)}
    intervals = read_intervals(out)
    assert set(intervals) == set(ids)  # every job really ran, exactly once
    peak = max_overlap(list(intervals.values()))
    assert 2 <= peak <= LIMIT, f"{peak} jobs ran at once with a limit of {LIMIT}"


def test_servers_sharing_a_home_respect_the_limit_together(
    settings: Settings, workdir: Path
) -> None:
    """Two services over the same state file (as two server processes would be) share one
    queue: the slot count is claimed inside a write transaction."""
    settings.jobs_max_concurrent = 2
    (workdir / "interval.py").write_text(INTERVAL_SCRIPT)
    out = workdir / "out"
    out.mkdir()
    out.chmod(0o777)  # isolated jobs run as uid 65534 under root: their output folder
    services = [JobService(settings, StateStore(settings.state_path)) for _ in range(2)]
    spec = build_spec(script=str(workdir / "interval.py"), script_args=[str(out)])

    def submit_many(service: JobService) -> None:
        for _ in range(5):
            service.submit(spec)

    threads = [threading.Thread(target=submit_many, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(lambda: len(read_intervals(out)) == 10, 60, "ten jobs to finish")
    peak = max_overlap(list(read_intervals(out).values()))
    assert peak == 2, f"{peak} jobs ran at once with a shared limit of 2"
