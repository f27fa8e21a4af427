"""The dashboard's first paint with 50 jobs and a 1M-point run (goal: under 1 s).

Starts ``mlintern-server --transport http`` on a state directory with 50 finished local jobs,
one of which logged N points (default 1,000,000) of train/loss as JSONL, then measures, in one
invocation so every figure sees the same machine load:

1. the API calls a first paint makes: /api/overview (50 jobs) and /api/view/experiment for the
   big run, in these states of the server:
   - never read: no mlintern process ever read the log (a full parse, pyarrow's JSON reader),
     asked the moment /healthz answers (the warm-up thread still builds the toolkits and
     imports numpy and pyarrow), and the first request of a settled server (its warm-up done,
     no CPU used), as when a person opens the page a while after the start;
   - restarted: a second server on the same MLINTERN_HOME, whose first read loads the series
     cache the first server saved (toolkits/experiments/sources/series_cache.py);
   - warm: the log was read by this process (only new bytes are read);
   - listed: a second big run, never opened, but listed on the overview, whose background pass
     (server/dashboard/prewarm.py) read it before the page was opened;
   against the baseline of the line-by-line reader (json.loads per line), timed in this run;
2. the payload the browser gets against the baseline of shipping the raw series (bytes, and
   the time just to JSON-encode it), which is what server-side downsampling saves;
3. with Debian's chromium (if installed): navigation start to the curve drawn on the page, on
   the restarted server's first look at the run.

Each API figure is wall time, and next to it the CPU seconds the server process spent meanwhile
(all its threads): on a loaded machine the wall time is mostly waiting for a core, the CPU time
is the work this code does.

    python benchmarks/dashboard.py [--points 1000000] [--jobs 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TOKEN = "benchmark-token-0123456789"


def seed(home: Path, jobs: int, points: int) -> tuple[list[str], Path]:
    """50 finished jobs through the real JobService; the first three get a big log each."""
    from server.settings import Settings
    from server.state import StateStore
    from toolkits.jobs.core import JobService, build_spec

    settings = Settings(home=home, _env_file=None)  # type: ignore[call-arg]
    service = JobService(settings, StateStore(settings.state_path))
    ids = [service.submit(build_spec(command="true", name=f"job-{i}")).job_id for i in range(jobs)]
    deadline = time.monotonic() + 120
    while any(service.refresh(i).status in ("queued", "running") for i in ids):
        if time.monotonic() > deadline:
            raise SystemExit("the seed jobs did not finish within 120 s")
        time.sleep(0.2)
    logs = [write_big_log(service.get(job_id), points) for job_id in ids[:3]]
    return ids[:3], logs[0]


def write_big_log(job, points: int) -> Path:  # type: ignore[no-untyped-def]
    metrics = Path(job.log_dir or Path(job.job_dir) / "metrics")
    metrics.mkdir(parents=True, exist_ok=True)
    log_file = metrics / "metrics.jsonl"
    with log_file.open("w") as out:
        out.writelines(
            f'{{"step": {s}, "train/loss": {2.0 / (1 + s / 1000) + (s % 97) * 1e-4:.6f}}}\n'
            for s in range(points)
        )
    return log_file


@dataclasses.dataclass
class Served:
    client: Any  # httpx.Client with the bearer token
    base: str
    login: str | None
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far, all threads (/proc/PID/stat)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, timeout_s: float = 60) -> None:
        """Wait until the server used no CPU for a second: its warm-up thread is done. (On a
        loaded machine one quiet moment can be a runnable thread waiting for a core; a second
        of them cannot.)"""
        deadline = time.monotonic() + timeout_s
        quiet, last = 0, self.cpu_seconds()
        while quiet < 5:
            if time.monotonic() > deadline:
                raise SystemExit("the server never settled")
            time.sleep(0.2)
            now = self.cpu_seconds()
            quiet = quiet + 1 if now - last <= 0.01 else 0
            last = now


def timed_get(served: Served, url: str) -> tuple[float, int, float]:
    """Wall seconds, response bytes and the server's CPU seconds meanwhile."""
    cpu, started = served.cpu_seconds(), time.perf_counter()
    response = served.client.get(url)
    response.raise_for_status()
    return time.perf_counter() - started, len(response.content), served.cpu_seconds() - cpu


def browser_first_paint(login: str, base: str, job_id: str) -> float | None:
    from views.browser import chromium

    try:
        driver = chromium()
    except BaseException:  # pytest.skip without chromium: report no browser figure
        return None
    try:
        driver.get(login)  # lands on the overview, which reads no metrics
        driver.get("about:blank")  # so the next page is a navigation, not a hash change
        driver.get(f"{base}/#/experiment/{job_id}")
        deadline = time.monotonic() + 30
        while not driver.find_elements("css selector", ".chart path.line"):
            if time.monotonic() > deadline:
                raise SystemExit("the chart never appeared")
            time.sleep(0.01)
        return driver.execute_script("return performance.now()") / 1000
    finally:
        driver.quit()


@contextlib.contextmanager
def serve(home: Path, log: Path) -> Iterator[Served]:
    """An HTTP client on a fresh ``mlintern-server --transport http``, its URL and login link."""
    import httpx
    from helpers import free_port, running, server_cmd, test_env, wait_for_http

    port = free_port()
    cmd = server_cmd("--transport", "http", "--port", str(port), "--toolsets", "jobs,experiments")
    env = test_env(home, MLINTERN_AUTH_TOKEN=TOKEN)
    with log.open("w") as sink, running(cmd, env, stderr=sink) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", timeout=60, proc=proc)
        login = re.search(r"works once\): (\S+)", log.read_text())
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            yield Served(client, base, login.group(1) if login else None, proc.pid)


def wait_for_cache(home: Path, files: int, timeout_s: float = 120) -> None:
    from toolkits.experiments.sources import series_cache

    folder = home.joinpath(*series_cache.FOLDER)
    deadline = time.monotonic() + timeout_s
    while not (folder.is_dir() and len(list(folder.glob("*.npz"))) >= files):
        if time.monotonic() > deadline:
            raise SystemExit("the first server never saved the series cache")
        time.sleep(0.05)


def line_by_line_seconds(path: Path) -> float:
    """The baseline: the same log through the line-by-line reader alone."""
    from toolkits.experiments.sources import tables

    started = time.perf_counter()
    cursor = tables.TableCursor(path, path.stat())
    tables.add_jsonl_lines(cursor, 1, path.read_bytes())
    return time.perf_counter() - started


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        (job_id, other_id, settled_id), log_file = seed(home, args.jobs, args.points)
        print(
            f"seeded {args.jobs} jobs and 3 x {args.points:,} points in {time.perf_counter() - started:.1f}s"
        )
        view = f"/api/view/experiment?source={job_id}"
        with serve(home, Path(tmp) / "settled.log") as served:
            served.settle()  # as when a person opens the page a while after the start
            settled = timed_get(served, f"/api/view/experiment?source={settled_id}")
        with serve(home, Path(tmp) / "first.log") as served:
            never = timed_get(served, view)
            listed = time.perf_counter()
            overview = [timed_get(served, "/api/overview")[0] for _ in range(args.rounds)]
            warm = [timed_get(served, view)[0] for _ in range(args.rounds)]
            # The overview's background pass reads (and caches) the other big run meanwhile.
            wait_for_cache(home, files=3)
            pass_s = time.perf_counter() - listed
            after_pass = timed_get(served, f"/api/view/experiment?source={other_id}")
        with serve(home, Path(tmp) / "second.log") as served:
            restarted_overview = timed_get(served, "/api/overview")
            restarted = timed_get(served, view)
            size = restarted[1]
            model = served.client.get(view).json()
        with serve(home, Path(tmp) / "third.log") as served:
            paint = browser_first_paint(served.login, served.base, job_id) if served.login else None
        baseline = line_by_line_seconds(log_file)
        raw = [[s, 2.0 / (1 + s / 1000)] for s in range(args.points)]
        encode_started = time.perf_counter()
        raw_bytes = len(json.dumps(raw))
        encode_s = time.perf_counter() - encode_started
    shown = sum(len(seg["points"]) for series in model["series"] for seg in series["segments"])
    warm_s, overview_s = statistics.median(warm), statistics.median(overview)

    def cpu(figure: tuple[float, int, float]) -> str:
        return f"{ms(figure[0])} (server CPU {ms(figure[2])})"

    print(f"/api/overview ({args.jobs} jobs): median {ms(overview_s)}")
    print(f"baseline, line-by-line parse of the log alone: {ms(baseline)}")
    print(
        f"/api/view/experiment, never read, asked as /healthz first answers: {cpu(never)} "
        f"({baseline / never[0]:.1f}x faster than the line-by-line parse alone)"
    )
    print(
        f"/api/view/experiment, never read, asked of a settled server: {cpu(settled)} "
        f"({baseline / settled[0]:.1f}x faster than the line-by-line parse alone)"
    )
    print(
        f"/api/view/experiment, never read but listed on the overview {pass_s:.1f}s before "
        f"(the background pass read it): {cpu(after_pass)}"
    )
    print(f"/api/view/experiment, restarted server (series cache): {cpu(restarted)}")
    print(f"/api/view/experiment, warm: median {ms(warm_s)}")
    print(f"points sent to the browser: {shown} of {args.points:,} ({size:,} bytes)")
    print(
        f"baseline, raw series: {raw_bytes:,} bytes ({raw_bytes / size:.0f}x the view-model), "
        f"{ms(encode_s)} just to encode it"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} CPUs")
    figures = {
        "never read, asked at start-up": overview_s + never[0],
        "never read, settled server": overview_s + settled[0],
        "never read, after the overview's pass": overview_s + after_pass[0],
        "restarted (cold)": restarted_overview[0] + restarted[0],
        "warm": overview_s + warm_s,
    }
    for name, seconds in figures.items():
        verdict = "met" if seconds < 1 else "NOT met"
        print(f"first paint, server side, {name} (overview + experiment): {ms(seconds)} — goal < 1000 ms {verdict}")  # fmt: skip
    if paint is not None:
        verdict = "met" if paint < 1 else "NOT met"
        print(f"first paint in chromium, restarted server (navigation to curve drawn): {ms(paint)} — goal < 1000 ms {verdict}")  # fmt: skip
    else:
        print("chromium not installed: no browser figure")


if __name__ == "__main__":
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    main()
