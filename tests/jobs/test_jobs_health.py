"""The last metric step, read from files written by the real TensorBoard and trackio writers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import test_env

from toolkits.jobs.health import latest_metric


def write_scalars(log_dir: Path, steps: range) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir))
    for step in steps:
        writer.add_scalar("train/loss", 1.0 / step, step)
    writer.close()


def test_tensorboard_step_is_read_and_followed_as_the_file_grows(tmp_path: Path) -> None:
    write_scalars(tmp_path / "a", range(1, 51))
    mark = latest_metric(tmp_path)
    assert mark is not None and (mark.step, mark.source) == (50, "tensorboard")
    assert mark.at is not None
    event_file = next((tmp_path / "a").glob("events.out.tfevents.*"))
    # A record still being written (its header only) is skipped until it is complete.
    with event_file.open("ab") as handle:
        handle.write(b"\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    assert latest_metric(tmp_path).step == 50  # type: ignore[union-attr]
    write_scalars(tmp_path / "b", range(51, 81))  # a resumed run writes a new file
    assert latest_metric(tmp_path).step == 80  # type: ignore[union-attr]


def test_no_metrics_means_none(tmp_path: Path) -> None:
    assert latest_metric(tmp_path) is None
    assert latest_metric(tmp_path / "missing") is None
    assert latest_metric(None) is None


def test_jsonl_metrics_are_read(tmp_path: Path) -> None:
    lines = [json.dumps({"step": s, "loss": 0.1}) for s in (10, 20, 30)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\nnot json\n")
    mark = latest_metric(tmp_path)
    assert mark is not None and (mark.step, mark.source) == (30, "jsonl")


def test_trackio_database_is_read(tmp_path: Path) -> None:
    pytest.importorskip(
        "trackio", reason="trackio is not installed: pip install 'mlintern[trackio]'"
    )
    store = tmp_path / "trackio"
    script = (
        "import trackio\n"
        "trackio.init(project='health-test')\n"
        "for step in range(1, 8):\n    trackio.log({'loss': 1 / step}, step=step)\n"
        "trackio.finish()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        env=test_env(tmp_path / "home", TRACKIO_DIR=str(store)),
        check=True,
        capture_output=True,
        timeout=120,
    )
    mark = latest_metric(tmp_path)
    assert mark is not None and (mark.step, mark.source) == (7, "trackio")
