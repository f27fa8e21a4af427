"""How fast jobs start and how cheap a status poll is, for the local and ray backends.

Each figure is the median of several runs, next to a baseline measured in the same run:

- submit -> running: jobs_submit until the job's own code runs (it writes a marker file),
  against starting the same script with a bare ``subprocess.Popen`` (local), or submitting it
  with Ray's ``JobSubmissionClient`` directly (ray).
- status poll: ``JobService.refresh`` (and, for local, jobs_status over MCP in memory), against
  reading the job's row from SQLite (local) or ``client.get_job_status`` (ray).

    python benchmarks/jobs.py [--runs 7] [--ray-address http://127.0.0.1:8265 | --no-ray]

Without --ray-address a throwaway Ray head is started on free ports and stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "jobs")]

from server.settings import Settings  # noqa: E402
from server.state import StateStore  # noqa: E402
from toolkits.jobs.core import JobService, build_spec  # noqa: E402

MARKER_SCRIPT = """
import pathlib, sys, time
pathlib.Path(sys.argv[1]).write_text("up")
time.sleep(float(sys.argv[2]))
"""


def wait_file(path: Path, timeout: float = 120, step: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(step)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def report(name: str, ours: list[float], baseline: list[float], baseline_name: str) -> None:
    a, b = median_ms(ours), median_ms(baseline)
    print(f"{name:<34} {a:9.2f} ms   {baseline_name:<30} {b:9.2f} ms   x{a / b:6.2f}")


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


# --- local ------------------------------------------------------------------------------------
def bench_local(runs: int, work: Path) -> None:
    settings = Settings(home=work / "home", jobs_max_concurrent=64, _env_file=None)  # type: ignore[call-arg]
    store = StateStore(settings.state_path)
    service = JobService(settings, store)
    script = work / "marker.py"
    script.write_text(MARKER_SCRIPT)
    ours, base, jobs = [], [], []
    for i in range(runs):
        marker = work / f"ours-{i}"
        started = time.perf_counter()
        job = service.submit(build_spec(script=str(script), script_args=[str(marker), "30"]))
        wait_file(marker)
        ours.append(time.perf_counter() - started)
        jobs.append(job.job_id)
        marker = work / f"bare-{i}"
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-u", str(script), str(marker), "0"])
        wait_file(marker)
        base.append(time.perf_counter() - started)
        proc.wait()
    report("local submit -> running", ours, base, "bare Popen -> running")
    # What isolation costs: the same submission with MLINTERN_JOBS_ISOLATION=off.
    bare_settings = settings.model_copy(update={"jobs_isolation": "off"})
    unisolated, bare_service = [], JobService(bare_settings, store)
    for i in range(runs):
        marker = work / f"off-{i}"
        started = time.perf_counter()
        bare_service.submit(build_spec(script=str(script), script_args=[str(marker), "30"]))
        wait_file(marker)
        unisolated.append(time.perf_counter() - started)
    report("local submit -> running (isolated)", ours, unisolated, "isolation off")

    job_id = jobs[-1]
    polls = timed(lambda: service.refresh(job_id), runs * 20)

    def read_row() -> None:
        with store.reading() as conn:
            conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()

    report("local status poll (refresh)", polls, timed(read_row, runs * 20), "SQLite row read")
    report("local jobs_status over MCP", mcp_polls(settings, job_id, runs * 20), polls, "refresh")
    for job_id in jobs:
        service.cancel(job_id)


def mcp_polls(settings: Settings, job_id: str, repeat: int) -> list[float]:
    from fastmcp import Client

    from server.app import build_server

    async def run() -> list[float]:
        settings.toolsets = ["jobs"]
        async with Client(build_server(settings)) as client:
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                await client.call_tool("jobs_status", {"job_id": job_id})
                samples.append(time.perf_counter() - started)
            return samples

    return asyncio.run(run())


# --- ray --------------------------------------------------------------------------------------
@contextlib.contextmanager
def ray_cluster(address: str | None) -> Iterator[str]:
    if address:
        yield address
        return
    from jobs_support import local_ray_head  # pyright: ignore[reportMissingImports] - tests/jobs on sys.path

    with local_ray_head() as url:
        yield url


def bench_ray(runs: int, work: Path, address: str) -> None:
    import logging

    from ray.job_submission import JobStatus, JobSubmissionClient

    # Ray notes every package upload at INFO on its own loggers.
    for name in ("ray", "ray.dashboard.modules.dashboard_sdk"):
        logging.getLogger(name).setLevel(logging.WARNING)

    settings = Settings(home=work / "ray-home", ray_address=address, _env_file=None)  # type: ignore[call-arg]
    service = JobService(settings, StateStore(settings.state_path))
    client = JobSubmissionClient(address)
    upload = work / "upload"
    upload.mkdir()
    (upload / "marker.py").write_text(MARKER_SCRIPT)
    ours, base, ids = [], [], []
    for i in range(runs):
        marker = work / f"ray-ours-{i}"
        started = time.perf_counter()
        job = service.submit(
            build_spec(
                backend="ray", script=str(upload / "marker.py"), script_args=[str(marker), "30"]
            )
        )
        wait_file(marker, step=0.01)
        ours.append(time.perf_counter() - started)
        ids.append(job.job_id)
        marker = work / f"ray-bare-{i}"
        started = time.perf_counter()
        bare = client.submit_job(
            entrypoint=f"python -u marker.py {marker} 0", runtime_env={"working_dir": str(upload)}
        )
        wait_file(marker, step=0.01)
        base.append(time.perf_counter() - started)
        while client.get_job_status(bare) not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            time.sleep(0.1)
    report("ray submit -> running", ours, base, "JobSubmissionClient -> running")
    job_id = ids[-1]
    remote = service.get(job_id).remote_id or job_id
    polls = timed(lambda: service.refresh(job_id), runs * 5)
    direct = timed(lambda: client.get_job_status(remote), runs * 5)
    report("ray status poll (refresh)", polls, direct, "get_job_status")
    for job_id in ids:
        service.cancel(job_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--ray-address", help="use this cluster instead of starting one")
    parser.add_argument("--no-ray", action="store_true", help="measure the local backend only")
    args = parser.parse_args()
    print(f"{'measure (median)':<34} {'mlintern':>12}   {'baseline':<30} {'':>12}   ratio")
    with tempfile.TemporaryDirectory(prefix="mlintern-bench-") as tmp:
        work = Path(tmp)
        # Isolated jobs run as uid 65534 when we are root: they must reach the script and
        # write their marker here, as in any shared scratch directory.
        work.chmod(0o1777)
        bench_local(args.runs, work)
        if not args.no_ray:
            with ray_cluster(args.ray_address) as address:
                bench_ray(args.runs, work, address)


if __name__ == "__main__":
    main()
