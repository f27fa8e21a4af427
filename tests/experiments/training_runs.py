"""Real CPU training runs of examples/train.py with a given config, for the judgment tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
TRAIN = REPO / "examples" / "train.py"
# Small train set + wide model + Adam: validation loss bottoms out near step 40, then rises.
OVERFIT = {
    "steps": 400,
    "train_size": 128,
    "hidden": 256,
    "eval_every": 20,
    "optimizer": {"name": "adam", "lr": 0.001},
}


def train(
    workdir: Path, name: str, config: dict, env: dict[str, str] | None = None, timeout: float = 180
) -> Path:
    """Run the example to the end in ``workdir``; returns its TensorBoard log dir."""
    log_dir = workdir / name
    config_file = workdir / f"{name}.yaml"
    config_file.write_text(yaml.safe_dump({**config, "log_dir": str(log_dir)}))
    child_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, str(TRAIN), "--config", str(config_file)],
        cwd=workdir,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode in (0, 3), done.stderr[-2000:]
    return log_dir
