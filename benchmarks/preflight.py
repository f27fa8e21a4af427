"""How much a preflight costs and how close its estimate comes to the real run.

For the example MLP (examples/train.py) at a few full-run lengths: a preflight of ``--steps``
steps (its overhead: wall time, and that time as a share of the full run), its estimate of the
full run's wall time, and the real full run timed as a plain subprocess in the same session
(the baseline). Goal: the estimate within 20 % of the real run. ``load`` is the machine's
1-minute load average after each row: other work on a shared machine slows both runs unevenly,
so only rows measured at a load below the core count say much about the estimator.

    python benchmarks/preflight.py [--steps 50] [--full 300 1000 3000] [--runs 3]
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

from server.roots import Roots, in_force  # noqa: E402
from server.settings import Settings  # noqa: E402
from toolkits.jobs.preflight_advice import run_preflight  # noqa: E402

TRAIN = REPO / "examples" / "train.py"


def real_run(config: Path, workdir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(TRAIN), "--config", str(config)],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=1800,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--steps", type=int, default=0, help="preflight steps (default: a tenth, at least 50)"
    )
    parser.add_argument("--full", type=int, nargs="+", default=[300, 1000, 3000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    base = yaml.safe_load((TRAIN.parent / "config.yaml").read_text())
    print(
        f"{'full steps':>10} {'preflight s':>12} {'overhead':>9} {'estimate s':>11} "
        f"{'real s':>8} {'error':>7} {'load':>5}"
    )
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        settings = Settings(home=workdir / "home", roots=[workdir], _env_file=None)  # type: ignore[call-arg]
        # The preflight resolves paths through the roots, as in a tool call.
        stack.enter_context(in_force(Roots.for_settings(settings)))
        for full in args.full:
            config = workdir / f"config-{full}.yaml"
            config.write_text(
                yaml.safe_dump({**base, "steps": full, "log_dir": str(workdir / f"runs-{full}")})
            )
            costs, estimates, reals = [], [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                report = run_preflight(
                    settings,
                    script=str(TRAIN),
                    command=None,
                    script_args=[],
                    working_dir=str(workdir),
                    config_file=str(config),
                    env={},
                    steps=args.steps or max(50, full // 10),
                    seconds=300,
                    memory_mb=None,
                )
                costs.append(time.perf_counter() - started)
                estimates.append(report.estimated_full_wall_s or float("nan"))
                reals.append(real_run(config, workdir))
            cost, estimate, real = (statistics.median(x) for x in (costs, estimates, reals))
            print(
                f"{full:>10} {cost:>12.2f} {cost / real:>8.0%} {estimate:>11.2f} {real:>8.2f} "
                f"{(estimate - real) / real:>+7.1%} {os.getloadavg()[0]:>5.1f}"
            )


if __name__ == "__main__":
    main()
