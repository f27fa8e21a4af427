"""Preflight: run a job's real script and config for a few steps here, before paying for it.

The config is copied with its step count cut to ``steps`` (the job reads the copy through
``--config`` / ``$MLINTERN_CONFIG_FILE``); without a step key, the run is stopped after
``seconds``. Steps and times come from the metrics it writes (any format experiments_* reads)
or, for scripts that only print, from ``step N`` in its output. Peak memory is sampled from
/proc over the job's process group; GPU memory from nvidia-smi when there is one. The advice
(estimates, and what to change after an out-of-memory failure) is in ``preflight_advice.py``.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from server.child_env import child_environment
from server.errors import UserError
from server.redact import redact
from server.settings import Settings
from toolkits.jobs.preflight_timing import StepTiming, step_timing

STEP_KEYS = ("steps", "max_steps", "num_steps", "total_steps", "max_train_steps", "iterations")
EVAL_KEYS = ("eval_every", "eval_steps", "eval_interval", "evaluation_steps", "val_every")
_STEP_LINE = re.compile(rb"\bstep[\s:=#]+(\d+)", re.IGNORECASE)
_OOM = re.compile(
    r"out of memory|MemoryError|can't allocate memory|Cannot allocate memory|std::bad_alloc",
    re.IGNORECASE,
)
_GPU_OOM = re.compile(
    r"CUDA out of memory|OutOfMemoryError: CUDA|CUBLAS_STATUS_ALLOC_FAILED|HIP out of memory"
)
MAX_OUTPUT = 200_000


class Measured(BaseModel):
    """What one bounded run showed."""

    exit_code: int | None = Field(description="None when preflight stopped it at its time limit.")
    wall_s: float
    steps_seen: int = 0
    last_step: int | None = None
    timing: StepTiming | None = None
    samples_per_second: float | None = None
    peak_host_mb: float | None = None
    peak_gpu_mb: float | None = Field(
        default=None,
        description="Per process from nvidia-smi; where the driver hides process ids (containers), "
        "the device's memory in use above what it was before the run.",
    )
    gpu_memory_basis: Literal["process", "device"] | None = None
    loss_tag: str | None = None
    loss_first: float | None = None
    loss_last: float | None = None
    loss_finite: bool | None = None
    loss_moving: bool | None = None
    out_of_memory: bool = False
    out_of_memory_on: Literal["host", "gpu"] | None = None
    output_tail: str = ""


def config_with_steps(config_file: Path, steps: int, dest: Path) -> tuple[int | None, dict]:
    """Copy the config with its step count set to ``steps``; (the original count, the config)."""
    from toolkits.experiments.config_edit import load_config

    config = load_config(config_file)
    key = next((k for k in STEP_KEYS if isinstance(config.get(k), int)), None)
    original = int(config[key]) if key else None
    if key:
        config[key] = min(steps, original or steps)
    if "log_dir" in config:
        config["log_dir"] = None  # so the metrics land in $MLINTERN_METRICS_DIR, read here
    write_config(config, dest)
    return original, config


def write_config(config: dict, dest: Path) -> None:
    import yaml

    dest.write_text(yaml.safe_dump(_plain(config), sort_keys=False))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def run_bounded(
    settings: Settings,
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    seconds: float,
    memory_mb: int | None,
    work: Path,
    batch_size: int | None,
    eval_every: int | None = None,
) -> Measured:
    metrics_dir = work / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    child_env = child_environment({**env, "MLINTERN_METRICS_DIR": str(metrics_dir)})
    child_env["MLINTERN_JOB_DIR"] = str(work)
    child_env["MLINTERN_PREFLIGHT"] = "1"

    def limits() -> None:  # runs in the child, before exec
        os.setpgrp()
        if memory_mb:
            import resource

            cap = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    gpu = GpuSampler()  # the device's baseline is read before the job can allocate
    started = time.time()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=limits,
    )
    lines: list[tuple[float, int]] = []
    output = bytearray()
    reader = threading.Thread(target=_read, args=(proc, output, lines), daemon=True)
    reader.start()
    exits: list[float] = []  # when it exited: the teardown ends there
    exited = threading.Event()

    # A thread blocked in wait() sees the exit at once; polling for it would wake this process
    # (and take a core from the job) far more often than the samples need.
    def wait_for_exit() -> None:
        proc.wait()
        exits.append(time.time())
        exited.set()

    threading.Thread(target=wait_for_exit, daemon=True).start()
    peak_host = 0.0
    deadline = started + seconds
    while not exited.is_set() and time.time() < deadline:
        peak_host = max(peak_host, _group_rss_mb(proc.pid))
        gpu.sample(proc.pid)
        exited.wait(0.05)
    timed_out = not exited.is_set()
    if timed_out:
        _kill_group(proc)
    proc.wait(timeout=30)
    ended = None if timed_out else exits[0]
    reader.join(timeout=10)
    measured = Measured(
        exit_code=None if timed_out else proc.returncode,
        wall_s=round(time.time() - started, 3),
        peak_host_mb=round(peak_host, 1) or None,
        peak_gpu_mb=round(gpu.peak, 1) or None,
        gpu_memory_basis=gpu.basis,
    )
    text = redact(output[-MAX_OUTPUT:].decode(errors="replace"))
    measured.output_tail = text[-2000:]
    measured.out_of_memory = bool(proc.returncode and not timed_out and _OOM.search(text))
    if measured.out_of_memory:
        measured.out_of_memory_on = "gpu" if _GPU_OOM.search(text) else "host"
    _timing(measured, metrics_dir, lines, (started, ended), batch_size, eval_every)
    return measured


def _read(proc: subprocess.Popen, output: bytearray, lines: list[tuple[float, int]]) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        if len(output) < 4 * MAX_OUTPUT:
            output.extend(raw)
        found = _STEP_LINE.search(raw)
        if found:
            lines.append((time.time(), int(found.group(1))))


def _timing(
    measured: Measured,
    metrics_dir: Path,
    lines: list[tuple[float, int]],
    span: tuple[float, float | None],
    batch_size: int | None,
    eval_every: int | None,
) -> None:
    points, eval_steps, loss = _metric_points(metrics_dir)
    basis: Literal["metrics", "stdout"] = "metrics"
    if len(points) < 2:
        points, eval_steps, basis = lines, set(), "stdout"
    if loss is not None:
        tag, values = loss
        import math

        measured.loss_tag, measured.loss_first, measured.loss_last = tag, values[0], values[-1]
        measured.loss_finite = all(math.isfinite(v) for v in values)
        scale = max(abs(values[0]), 1e-12)
        measured.loss_moving = measured.loss_finite and abs(values[-1] - values[0]) / scale > 0.01
    if not points:
        return
    measured.steps_seen = len({step for _t, step in points})
    measured.last_step = max(step for _t, step in points)
    measured.timing = step_timing(span[0], points, eval_steps, span[1], basis, eval_every)
    if measured.timing is not None and batch_size:
        measured.samples_per_second = round(batch_size / measured.timing.seconds_per_step, 1)


def _metric_points(metrics_dir: Path):
    """(wall time, step) of each step of the densest series, preferably a training loss; the
    steps where sparser series were logged (evaluations, most likely); that loss series."""
    try:
        from toolkits.experiments.sources import Located, read
    except ImportError:
        return [], set(), None
    if not any(metrics_dir.iterdir()):
        return [], set(), None
    snapshot = read(Located(str(metrics_dir), path=metrics_dir))
    tags = sorted(
        snapshot.series, key=lambda t: (not t.startswith("train"), len(snapshot.series[t]) * -1)
    )
    chosen = next((t for t in tags if "loss" in t.lower()), None) or (tags[0] if tags else None)
    if chosen is None:
        return [], set(), None
    series = snapshot.series[chosen]
    points = [
        (float(w), int(s))
        for s, w in zip(series.steps.tolist(), series.wall_times.tolist(), strict=True)
        if w == w  # not NaN
    ]
    loss = (
        (chosen, [float(v) for v in series.values.tolist()]) if "loss" in chosen.lower() else None
    )
    sparse = [s for s in snapshot.series.values() if 0 < len(s) <= len(series) / 2]
    return points, {int(step) for s in sparse for step in s.steps.tolist()}, loss


def _group_pids(pgid: int) -> dict[int, int]:
    """pid -> resident bytes of every process in the process group (a job's children too)."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5 of stat, the process group
                continue
            found[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # rss pages
        except (OSError, IndexError, ValueError):
            continue
    return found


def _group_rss_mb(pgid: int) -> float:
    return sum(_group_pids(pgid).values()) / 2**20


class GpuSampler:
    """Peak GPU memory of a job's process group, from nvidia-smi, at most every ``every`` s.

    nvidia-smi runs ~50-100 ms, so it is sampled less often than host memory. Per-process
    figures are summed over the whole group (a ``command`` job's Python is a grandchild). In a
    container the driver reports host pids, which match nothing here: then the device's memory
    in use above the baseline read before the job started is the best figure there is.
    """

    def __init__(self, every: float = 0.5) -> None:
        import shutil

        self.present = shutil.which("nvidia-smi") is not None
        self.every, self.next_at = every, 0.0
        self.peak = 0.0
        self.basis: Literal["process", "device"] | None = None
        self.baseline = self._device_used()

    def _query(self, what: str) -> list[list[str]] | None:
        from toolkits.jobs.hardware import nvidia_smi_csv

        return nvidia_smi_csv(what, timeout=5) if self.present else None

    def _device_used(self) -> float | None:
        rows = self._query("gpu=memory.used")
        try:
            return sum(float(row[0]) for row in rows) if rows else None
        except ValueError:
            return None

    def sample(self, pgid: int) -> None:
        now = time.monotonic()
        if not self.present or now < self.next_at:
            return
        self.next_at = now + self.every
        apps = self._query("compute-apps=pid,used_memory") or []
        ours = _group_pids(pgid)
        try:
            mine = [float(m) for p, m, *_ in apps if int(p) in ours]
        except ValueError:
            mine = []
        if mine:
            self.peak, self.basis = max(self.peak, sum(mine)), "process"
            return
        if self.basis == "process" or self.baseline is None:
            return
        if any(p.isdigit() and Path(f"/proc/{p}").exists() for p, *_ in apps):
            return  # the driver shows local pids, just not ours: that memory is someone else's
        used = self._device_used()
        if used is not None and used > self.baseline:
            self.peak, self.basis = max(self.peak, used - self.baseline), "device"


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def work_dir(settings: Settings) -> Path:
    path = settings.home / "preflight" / f"pf-{secrets.token_hex(5)}"
    path.mkdir(parents=True, mode=0o700)
    return path


def argv_for(script: str | None, command: str | None, script_args: list[str], cwd: Path):
    if bool(script) == bool(command):
        raise UserError("Give either script (a Python file) or command (a shell line), not both.")
    if command:
        return ["bash", "-c", command]
    path = Path(script or "").expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        raise UserError(f"Script {path} does not exist; pass a path relative to working_dir.")
    return [sys.executable, str(path), *script_args]
