"""jobs_preflight on a real NVIDIA GPU: the figures CI cannot check (it has no GPU).

Run on a machine with a GPU, nvidia-smi and PyTorch (pydantic-settings is the only other need):
    python3 scripts/gpu_preflight_check.py [OUT_DIR]
It preflights a small CUDA training script for 300 of its 3000 steps, then runs the full 3000 and
compares: the time estimate against the real wall time, and preflight's peak GPU memory against
what PyTorch itself reserved. Then a batch far too big for the card must come back as out of
memory with a smaller, verified batch. Prints one JSON report (also written to OUT_DIR).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from scripts.core_only import skip_mcp_layers  # noqa: E402

skip_mcp_layers()  # the preflight core: fastmcp need not be installed here

TRAIN = """
import sys, time, yaml, torch
cfg = yaml.safe_load(open(sys.argv[1]))
torch.manual_seed(0)
dev = "cuda"
model = torch.nn.Sequential(torch.nn.Linear(256, cfg["hidden"]), torch.nn.ReLU(),
                            torch.nn.Linear(cfg["hidden"], 4)).to(dev)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
accum = int(cfg.get("gradient_accumulation_steps") or 1)
w = torch.randn(256, 4, device=dev)
for step in range(1, cfg["steps"] + 1):
    for _ in range(accum):
        x = torch.randn(cfg["batch_size"], 256, device=dev)
        loss = torch.nn.functional.cross_entropy(model(x), (x @ w).argmax(1)) / accum
        loss.backward()
    opt.step(); opt.zero_grad()
    torch.cuda.synchronize()
    print(f"step {step} loss {loss.item() * accum:.4f}", flush=True)
print(f"torch_max_reserved_mb {torch.cuda.max_memory_reserved() / 2**20:.1f}", flush=True)
"""


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    work = Path(tempfile.mkdtemp(prefix="gpucheck-"))
    os.environ.update(MLINTERN_HOME=str(work / "home"), MLINTERN_ROOTS=str(work))
    import yaml

    from server.settings import Settings
    from toolkits.jobs.preflight_advice import run_preflight

    (work / "train.py").write_text(TRAIN)
    (work / "config.yaml").write_text(
        yaml.safe_dump({"steps": 3000, "batch_size": 32768, "hidden": 8192})
    )
    settings = Settings()
    report: dict = {"nvidia_smi": _smi()}

    def preflight(config: str, steps: int) -> dict:
        started = time.time()
        result = run_preflight(
            settings,
            script=str(work / "train.py"),
            command=None,
            script_args=[str(work / config)],
            working_dir=str(work),
            config_file=str(work / config),
            env={},
            steps=steps,
            seconds=240,
            memory_mb=None,
        )
        data = result.model_dump(mode="json")
        data["measured"].pop("output_tail", None)
        data["preflight_seconds"] = round(time.time() - started, 2)
        return data

    # Warm the file cache first, as a machine that already ran the job once would be: otherwise
    # the first process alone pays for reading PyTorch and CUDA from disk.
    subprocess.run(
        [sys.executable, "-c", "import torch; torch.ones(1, device='cuda')"], timeout=120
    )
    fit = preflight("config.yaml", 300)
    started = time.time()
    full = subprocess.run(
        [sys.executable, str(work / "train.py"), str(work / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    full_wall = time.time() - started
    if full.returncode != 0:
        raise SystemExit(f"the full run failed ({full.returncode}): {full.stderr[-2000:]}")
    reserved = float(full.stdout.rsplit("torch_max_reserved_mb", 1)[1].split()[0])
    estimate = fit["estimated_full_wall_s"]
    report["fits"] = {
        "measured": fit["measured"],
        "estimated_full_wall_s": estimate,
        "real_full_wall_s": round(full_wall, 2),
        "estimate_error": round(abs(estimate - full_wall) / full_wall, 3) if estimate else None,
        "torch_max_reserved_mb": reserved,
        "preflight_gpu_mb_minus_torch_reserved": (fit["measured"]["peak_gpu_mb"] or 0) - reserved,
        "preflight_seconds": fit["preflight_seconds"],
    }
    (work / "huge.yaml").write_text(
        yaml.safe_dump({"steps": 300, "batch_size": 2**22, "hidden": 8192})
    )
    oom = preflight("huge.yaml", 5)
    report["oom"] = {
        "out_of_memory": oom["measured"]["out_of_memory"],
        "fits": oom["fits"],
        "first_recommendation": (oom.get("recommendations") or [None])[0],
        "preflight_seconds": oom["preflight_seconds"],
    }
    checks = {
        "gpu memory measured": bool(fit["measured"]["peak_gpu_mb"]),
        "gpu memory >= torch reserved": (fit["measured"]["peak_gpu_mb"] or 0) >= reserved,
        "estimate within 20%": report["fits"]["estimate_error"] is not None
        and report["fits"]["estimate_error"] <= 0.20,
        "cuda oom detected": oom["measured"]["out_of_memory"] is True,
        "smaller batch verified": bool(
            report["oom"]["first_recommendation"]
            and report["oom"]["first_recommendation"].get("verified")
        ),
    }
    report["checks"] = checks
    text = json.dumps(report, indent=1)
    (out / "gpu_preflight.json").write_text(text)
    print(text)
    print("ALL PASSED" if all(checks.values()) else "FAILED: " + str(checks))


def _smi() -> str:
    try:
        return subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,memory.used", "--format=csv"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi failed: {exc}"


if __name__ == "__main__":
    main()
