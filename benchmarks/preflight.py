"""How much a preflight costs and how close its estimate comes to the real run.

For the example MLP (examples/train.py) at a few full-run lengths, each row is one preflight of
``--steps`` steps and one real full run, timed as a plain subprocess right after it in the same
session (the baseline; the order alternates, so a drift in load favours neither). Per row:

- preflight s / overhead: the preflight's wall time, and that time as a share of the full run;
- estimate / real / error: the estimate of the full run's wall time against the real one
  (goal: within 20 %), and, for scale, ``linear``: the error of the naive estimate (preflight wall
  time x full steps / preflight steps);
- start-up and s/step of the preflight against the real run's own (read from its metrics with
  the same estimator), which says which part an error came from;
- load: the 1-minute load average over the row (mean of its start and end). On a shared machine
  other work slows runs unevenly; rows at a load below the core count say most.

The summary gives the median absolute error over the rows at load below the core count, and
over all rows. ``--nice 10`` (root only) runs the preflights and the real runs at a higher
priority, so that on a shared machine they wait less for a core and the figures say more about
the estimate than about the neighbours; ``--calm 120`` waits up to that many seconds before each
row for the load to fall below the core count.

    python benchmarks/preflight.py [--steps 0] [--full 300 1000 3000] [--runs 3] [--nice 0]
        [--calm 0]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from scripts.core_only import skip_mcp_layers  # noqa: E402

skip_mcp_layers()  # the preflight core alone: this runs where fastmcp is not installed, too
from server.roots import Roots, in_force  # noqa: E402
from server.settings import Settings  # noqa: E402
from toolkits.jobs.preflight import _metric_points  # noqa: E402
from toolkits.jobs.preflight_advice import PreflightReport, run_preflight  # noqa: E402
from toolkits.jobs.preflight_timing import StepTiming, step_timing  # noqa: E402

TRAIN = REPO / "examples" / "train.py"
GOAL = 0.20
HEADER = (
    f"{'full':>5} {'pf steps':>8} {'pf s':>6} {'overhead':>8} {'estimate':>8} {'real':>7} "
    f"{'error':>7} {'linear':>7} {'start-up pf/real':>16} {'ms/step pf/real':>15} {'load':>5}"
)


def real_run(config: Path, workdir: Path, log_dir: Path) -> tuple[float, StepTiming | None]:
    """The full run as a plain subprocess: its wall time, and its own timing from its metrics."""
    started = time.time()
    subprocess.run(
        [sys.executable, str(TRAIN), "--config", str(config), "--log-dir", str(log_dir)],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=1800,
    )
    ended = time.time()
    points, eval_steps, _loss = _metric_points(log_dir)
    return ended - started, step_timing(started, points, eval_steps, ended, "metrics")


def preflight(settings: Settings, workdir: Path, config: Path, steps: int) -> PreflightReport:
    return run_preflight(
        settings,
        script=str(TRAIN),
        command=None,
        script_args=[],
        working_dir=str(workdir),
        config_file=str(config),
        env={},
        steps=steps,
        seconds=600,
        memory_mb=None,
    )


def row(full: int, steps: int, cost: float, report: PreflightReport, real: tuple) -> dict:
    real_s, own = real
    estimate = report.estimated_full_wall_s or float("nan")
    mine = report.measured.timing
    return {
        "full": full,
        "steps": steps,
        "cost": cost,
        "estimate": estimate,
        "real": real_s,
        "error": (estimate - real_s) / real_s,
        "linear": (report.measured.wall_s * full / steps - real_s) / real_s,
        "startup": (_part(mine, "startup_s"), _part(own, "startup_s")),
        "per_step": (_part(mine, "seconds_per_step") * 1000, _part(own, "seconds_per_step") * 1000),
    }


def _part(timing: StepTiming | None, name: str) -> float:
    return getattr(timing, name) if timing is not None else float("nan")


def show(r: dict) -> str:
    startup = f"{r['startup'][0]:.2f}/{r['startup'][1]:.2f}"
    per_step = f"{r['per_step'][0]:.2f}/{r['per_step'][1]:.2f}"
    return (
        f"{r['full']:>5} {r['steps']:>8} {r['cost']:>6.2f} {r['cost'] / r['real']:>8.0%} "
        f"{r['estimate']:>8.2f} {r['real']:>7.2f} {r['error']:>+7.1%} {r['linear']:>+7.1%} "
        f"{startup:>16} {per_step:>15} {r['load']:>5.1f}"
    )


def summary(rows: list[dict], cores: int) -> list[str]:
    lines = []
    calm = [r for r in rows if r["load"] < cores]
    for name, chosen in ((f"load < {cores} cores", calm), ("all rows", rows)):
        if not chosen:
            lines.append(f"{name}: no rows")
            continue
        errors = [abs(r["error"]) for r in chosen]
        linear = [abs(r["linear"]) for r in chosen]
        within = sum(e <= GOAL for e in errors)
        lines.append(
            f"{name}: {len(chosen)} rows, median |error| {statistics.median(errors):.1%} "
            f"(naive linear {statistics.median(linear):.1%}), within {GOAL:.0%}: "
            f"{within}/{len(chosen)}, median overhead "
            f"{statistics.median(r['cost'] / r['real'] for r in chosen):.0%}"
        )
    return lines


def wait_for_calm(limit_s: float, cores: int) -> None:
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= cores and time.monotonic() < deadline:
        time.sleep(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--steps", type=int, default=0, help="preflight steps (default: a tenth, at least 50)"
    )
    parser.add_argument("--full", type=int, nargs="+", default=[300, 1000, 3000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nice", type=int, default=0, help="raise priority by N (root only)")
    parser.add_argument("--calm", type=float, default=0, help="wait up to N s for a low load")
    args = parser.parse_args()
    if args.nice:
        os.nice(-args.nice)  # the children (preflights, real runs) inherit it
    base = yaml.safe_load((TRAIN.parent / "config.yaml").read_text())
    cores = os.cpu_count() or 1
    print(f"{cores} cores, priority raised by {args.nice}\n{HEADER}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        settings = Settings(home=workdir / "home", roots=[workdir], _env_file=None)  # type: ignore[call-arg]
        # The preflight resolves paths through the roots, as in a tool call.
        stack.enter_context(in_force(Roots.for_settings(settings)))
        for run in range(args.runs):
            for full in args.full:
                config = workdir / f"config-{full}.yaml"
                config.write_text(yaml.safe_dump({**base, "steps": full, "log_dir": None}))
                steps = args.steps or max(50, full // 10)
                wait_for_calm(args.calm, cores)
                load = os.getloadavg()[0]
                real = None
                if run % 2:  # the real run first every other round
                    real = real_run(config, workdir, workdir / f"real-{full}-{run}")
                started = time.perf_counter()
                report = preflight(settings, workdir, config, steps)
                cost = time.perf_counter() - started
                if real is None:
                    real = real_run(config, workdir, workdir / f"real-{full}-{run}")
                done = row(full, steps, cost, report, real)
                done["load"] = (load + os.getloadavg()[0]) / 2
                rows.append(done)
                print(show(done), flush=True)
    print("\n".join(summary(rows, cores)))


if __name__ == "__main__":
    main()
