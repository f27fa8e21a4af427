"""The dashboard's first paint with 50 jobs and a 1M-point run (goal: under 1 s).

Starts ``mlintern-server --transport http`` on a state directory with 50 finished local jobs,
one of which logged N points (default 1,000,000) of train/loss as JSONL, then measures, in one
invocation so every figure sees the same machine load:

1. the API calls a first paint makes: /api/overview (50 jobs) and /api/view/experiment for the
   big run, cold (nothing read yet) and warm (the log was read once: only new bytes are read);
2. the payload the browser gets against the baseline of shipping the raw series (bytes, and
   the time just to JSON-encode it), which is what server-side downsampling saves;
3. with Debian's chromium (if installed): navigation start to the curve drawn on the page.

    python benchmarks/dashboard.py [--points 1000000] [--jobs 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TOKEN = "benchmark-token-0123456789"


def seed(home: Path, jobs: int, points: int) -> str:
    """50 finished jobs through the real JobService; the first one's metrics get the big log."""
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
    big = service.get(ids[0])
    metrics = Path(big.log_dir or Path(big.job_dir) / "metrics")
    metrics.mkdir(parents=True, exist_ok=True)
    with (metrics / "metrics.jsonl").open("w") as out:
        out.writelines(
            f'{{"step": {s}, "train/loss": {2.0 / (1 + s / 1000) + (s % 97) * 1e-4:.6f}}}\n'
            for s in range(points)
        )
    return big.job_id


def timed_get(client, url: str) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = client.get(url)
    response.raise_for_status()
    return time.perf_counter() - started, len(response.content)


def browser_first_paint(login: str, base: str, job_id: str) -> float | None:
    from views.browser import chromium

    try:
        driver = chromium()
    except BaseException:  # pytest.skip without chromium: report no browser figure
        return None
    try:
        driver.get(login)
        driver.get(f"{base}/#/experiment/{job_id}")
        driver.execute_script("location.reload()")
        deadline = time.monotonic() + 30
        while not driver.find_elements("css selector", ".chart path.line"):
            if time.monotonic() > deadline:
                raise SystemExit("the chart never appeared")
            time.sleep(0.01)
        return driver.execute_script("return performance.now()") / 1000
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import httpx
    from helpers import free_port, running, server_cmd, test_env, wait_for_http

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        job_id = seed(home, args.jobs, args.points)
        print(
            f"seeded {args.jobs} jobs and {args.points:,} points in {time.perf_counter() - started:.1f}s"
        )
        port = free_port()
        log = Path(tmp) / "server.log"
        cmd = server_cmd(
            "--transport", "http", "--port", str(port), "--toolsets", "jobs,experiments"
        )
        env = test_env(home, MLINTERN_AUTH_TOKEN=TOKEN)
        with log.open("w") as sink, running(cmd, env, stderr=sink) as proc:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/healthz", timeout=60, proc=proc)
            login = re.search(r"works once\): (\S+)", log.read_text())
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                view = f"/api/view/experiment?source={job_id}"
                cold, size = timed_get(client, view)
                overview = [timed_get(client, "/api/overview")[0] for _ in range(args.rounds)]
                warm = [timed_get(client, view)[0] for _ in range(args.rounds)]
                model = client.get(view).json()
            paint = browser_first_paint(login.group(1), base, job_id) if login else None
        raw = [[s, 2.0 / (1 + s / 1000)] for s in range(args.points)]
        encode_started = time.perf_counter()
        raw_bytes = len(json.dumps(raw))
        encode_s = time.perf_counter() - encode_started
    shown = sum(len(seg["points"]) for series in model["series"] for seg in series["segments"])
    print(f"/api/overview ({args.jobs} jobs): median {statistics.median(overview) * 1000:.0f} ms")
    print(f"/api/view/experiment cold (first read of {args.points:,} points): {cold * 1000:.0f} ms")
    print(f"/api/view/experiment warm: median {statistics.median(warm) * 1000:.0f} ms")
    print(f"points sent to the browser: {shown} of {args.points:,} ({size:,} bytes)")
    print(
        f"baseline, raw series: {raw_bytes:,} bytes ({raw_bytes / size:.0f}x the view-model), "
        f"{encode_s * 1000:.0f} ms just to encode it"
    )
    first_paint = statistics.median(overview) + statistics.median(warm)
    print(f"first paint, server side (overview + warm experiment): {first_paint * 1000:.0f} ms")
    if paint is not None:
        print(f"first paint in chromium (navigation to curve drawn, warm): {paint * 1000:.0f} ms")
    else:
        print("chromium not installed: no browser figure")
    print(f"goal < 1000 ms: {'met' if max(first_paint, paint or 0) < 1 else 'NOT met'}")


if __name__ == "__main__":
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    main()
