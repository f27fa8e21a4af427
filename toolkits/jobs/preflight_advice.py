"""What a preflight means: the full run's time and cost per hardware option, and after an
out-of-memory failure the cheapest change that fits (tried for real where it can be), before
bigger hardware."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from server.roots import current as current_roots
from server.settings import Settings
from toolkits.jobs import preflight as pf
from toolkits.jobs.credentials import check_plain_env
from toolkits.jobs.hardware import HF_FALLBACK_FLAVORS
from toolkits.jobs.inputs import resolve_file, resolve_working_dir
from toolkits.jobs.preflight_timing import full_run_seconds

BATCH_KEYS = ("batch_size", "per_device_train_batch_size", "train_batch_size", "micro_batch_size")
ACCUM_KEYS = ("gradient_accumulation_steps", "grad_accum", "accumulate_grad_batches")
SEQUENCE_KEYS = ("max_length", "max_seq_length", "seq_len", "block_size", "context_length")
MAX_HALVINGS = 4
PROBE_STEPS = 3


class HardwareCost(BaseModel):
    flavor: str
    usd_per_hour: float
    memory_gb: float | None = None
    estimated_usd: float = Field(description="At the speed measured here.")


class Change(BaseModel):
    change: str
    config_changes: dict[str, Any] = Field(default_factory=dict)
    verified: bool = Field(description="A preflight with this change ran without running out.")
    usd_per_hour: float | None = None


class PreflightReport(BaseModel):
    command: str
    preflight_steps: int | None
    full_steps: int | None = Field(description="Steps of the full run (from the config).")
    measured: pf.Measured
    estimated_full_wall_s: float | None = None
    estimate_basis: str | None = Field(default=None, description="The parts it adds up.")
    hardware: list[HardwareCost] = Field(default_factory=list)
    fits: bool
    recommendations: list[Change] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def render(self) -> str:
        m = self.measured
        head = "OUT OF MEMORY" if m.out_of_memory else ("OK" if self.fits else "FAILED")
        lines = [f"Preflight {head}: {self.command} ({m.wall_s:.1f}s, {m.steps_seen} step(s))"]
        if m.timing is not None:
            lines.append(
                f"{m.timing.seconds_per_step:.4g} s/step"
                + (f", {m.samples_per_second:g} samples/s" if m.samples_per_second else "")
                + f", start-up {m.timing.startup_s:.1f}s"
            )
        gpu = f"{m.peak_gpu_mb} MB" + (" (device-wide)" if m.gpu_memory_basis == "device" else "")
        lines.append(f"peak host memory {m.peak_host_mb} MB, peak GPU memory {gpu}")
        if m.loss_tag:
            lines.append(
                f"{m.loss_tag}: {m.loss_first:.4g} -> {m.loss_last:.4g} (finite: {m.loss_finite}, "
                f"moving: {m.loss_moving})"
            )
        if self.estimated_full_wall_s is not None:
            lines.append(
                f"full run ({self.full_steps} steps): ~{self.estimated_full_wall_s:.0f}s here"
                f" = {self.estimate_basis}"
            )
            lines += [
                f"  {h.flavor}: ${h.estimated_usd:.4f} at ${h.usd_per_hour}/h"
                for h in self.hardware
            ]
        for change in self.recommendations:
            tried = "fits (tried)" if change.verified else "untried"
            cost = f", ${change.usd_per_hour}/h" if change.usd_per_hour is not None else ""
            lines.append(
                f"recommend: {change.change} [{tried}{cost}] {change.config_changes or ''}"
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def estimate(measured: pf.Measured, full_steps: int | None) -> tuple[float, str] | None:
    """The full run's wall time (preflight_timing.py says how) and the parts it adds up."""
    if full_steps is None or measured.last_step is None:
        return None
    if measured.exit_code == 0 and measured.last_step >= full_steps:
        return measured.wall_s, f"the preflight ran all {full_steps} steps"
    if measured.timing is None:
        return None
    return full_run_seconds(measured.timing, full_steps)


def costs(wall_s: float) -> list[HardwareCost]:
    return [
        HardwareCost(
            flavor=f.name,
            usd_per_hour=f.usd_per_hour,
            memory_gb=flavor_memory_gb(f),
            estimated_usd=round(wall_s / 3600 * f.usd_per_hour, 6),
        )
        for f in HF_FALLBACK_FLAVORS
        if f.usd_per_hour is not None
    ]


def flavor_memory_gb(flavor: Any) -> float | None:
    found = re.search(r"\((\d+) GB\)", flavor.accelerator or "") or re.search(
        r"(\d+) GB", flavor.ram or ""
    )
    return float(found.group(1)) if found else None


def flavor_gpu_memory_gb(flavor: Any) -> float | None:
    """Memory of ONE accelerator of a flavor ('4x L4 (96 GB)' -> 24): what a per-device batch
    meets. None for CPU flavors."""
    found = re.search(r"(\d+)x .*\((\d+) GB\)", flavor.accelerator or "")
    return float(found.group(2)) / int(found.group(1)) if found else None


def _bigger_hardware(memory_mb: int | None, gpu_memory_gb: float | None) -> Change | None:
    """The cheapest flavor with twice the memory that ran out: the GPU's, or the host's."""
    if gpu_memory_gb is not None:
        need, memory_of, what = gpu_memory_gb * 2, flavor_gpu_memory_gb, "GB per GPU"
    else:
        need, memory_of, what = (memory_mb or 16 * 1024) * 2 / 1024, flavor_memory_gb, "GB"
    bigger = sorted(
        (f for f in HF_FALLBACK_FLAVORS if (memory_of(f) or 0) >= need),
        key=lambda f: f.usd_per_hour or 0,
    )
    if not bigger:
        return None
    return Change(
        change=f"bigger hardware: {bigger[0].name} ({memory_of(bigger[0]):g} {what})",
        verified=False,
        usd_per_hour=bigger[0].usd_per_hour,
    )


def out_of_memory_advice(
    settings: Settings,
    config: dict | None,
    rerun: Any,
    memory_mb: int | None,
    gpu_memory_gb: float | None = None,
) -> list[Change]:
    """Cheapest first: a smaller per-device batch with accumulation (tried), shorter
    sequences, activation checkpointing, mixed precision; then the cheapest bigger hardware
    (by GPU memory when ``gpu_memory_gb``, the memory of the GPU that ran out, is given)."""
    changes: list[Change] = []
    config = config or {}
    key = next((k for k in BATCH_KEYS if isinstance(config.get(k), int)), None)
    if key:
        accum_key = next((k for k in ACCUM_KEYS if k in config), ACCUM_KEYS[0])
        batch, accum = int(config[key]), int(config.get(accum_key) or 1)
        for halvings in range(1, MAX_HALVINGS + 1):
            smaller = batch >> halvings
            if smaller < 1:
                break
            trial = {key: smaller, accum_key: accum << halvings}
            if not rerun({key: smaller}).out_of_memory:
                changes.append(
                    Change(
                        change=f"per-device {key} {batch} -> {smaller} with {accum_key} "
                        f"{accum} -> {accum << halvings} (same effective batch {batch * accum})",
                        config_changes=trial,
                        verified=True,
                    )
                )
                break
    seq = next((k for k in SEQUENCE_KEYS if isinstance(config.get(k), int)), None)
    if seq:
        changes.append(
            Change(
                change=f"shorter sequences: {seq} {config[seq]} -> {int(config[seq]) // 2}",
                config_changes={seq: int(config[seq]) // 2},
                verified=False,
            )
        )
    changes.append(
        Change(change="activation (gradient) checkpointing", verified=False, config_changes={})
    )
    changes.append(
        Change(change="mixed precision (bf16, or fp16 with loss scaling)", verified=False)
    )
    bigger = _bigger_hardware(memory_mb, gpu_memory_gb)
    if bigger is not None:
        changes.append(bigger)
    return changes


def probe_config(config: dict, changes: dict, dest: Path) -> None:
    pf.write_config({**config, **changes}, dest)


def run_preflight(
    settings: Settings,
    *,
    script: str | None,
    command: str | None,
    script_args: list[str],
    working_dir: str | None,
    config_file: str | None,
    env: dict[str, str],
    steps: int,
    seconds: float,
    memory_mb: int | None,
) -> PreflightReport:
    # The same roots-checked resolution as jobs_submit: a preflight runs the job's real files.
    check_plain_env(env)
    cwd = resolve_working_dir(settings, working_dir)
    if script:
        script = str(resolve_file("script", script, cwd))
    if cwd is None:
        cwd = Path(script).parent if script else current_roots().check(Path.cwd())
    work = pf.work_dir(settings)
    try:
        config, full_steps, original = None, None, None
        if config_file:
            original = resolve_file("config_file", config_file, cwd)
            full_steps, config = pf.config_with_steps(original, steps, work / "config.yaml")
        argv = pf.argv_for(script, command, list(script_args), cwd)

        def run(config_path: Path | None, limit_s: float) -> pf.Measured:
            args = list(argv)
            extra = dict(env)
            if config_path is not None and original is not None:
                # The job's own --config argument, if it has one, points at the cut-down copy.
                args = [str(config_path) if a in (config_file, str(original)) else a for a in args]
                extra["MLINTERN_CONFIG_FILE"] = str(config_path)
            batch = next((config.get(k) for k in BATCH_KEYS if config and k in config), None)
            period = next((config.get(k) for k in pf.EVAL_KEYS if config and k in config), None)
            return pf.run_bounded(
                settings,
                args,
                cwd=cwd,
                env=extra,
                seconds=limit_s,
                memory_mb=memory_mb,
                work=work / f"run-{len(list(work.glob('run-*')))}",
                batch_size=batch if isinstance(batch, int) else None,
                eval_every=period if isinstance(period, int) and period > 0 else None,
            )

        measured = run(work / "config.yaml" if config else None, seconds)
        notes = []
        if full_steps is None:
            notes.append("no step count in the config: the full run's time is not estimated")
        if measured.peak_gpu_mb is None:
            notes.append("no GPU memory measured (no nvidia-smi or no GPU use)")
        # On a busy machine the run's waits for a core are in its times, and vary by the minute.
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
        if load >= 2 * cores:
            notes.append(f"machine busy (load {load:.1f}, {cores} cores): the times are rough")
        report = PreflightReport(
            command=" ".join(argv),
            preflight_steps=steps if full_steps is not None else None,
            full_steps=full_steps,
            measured=measured,
            fits=measured.exit_code in (0, None) and not measured.out_of_memory,
            notes=notes,
        )
        if measured.out_of_memory:

            def rerun(changes: dict) -> pf.Measured:
                probe = work / f"probe-{len(list(work.glob('probe-*')))}.yaml"
                probe_config({**(config or {}), **_steps_of(config, PROBE_STEPS)}, changes, probe)
                return run(probe, seconds)

            gpu_gb = None
            if measured.out_of_memory_on == "gpu":
                from toolkits.jobs.hardware import detect_gpus

                gpu_gb = next((g.memory_gb for g in detect_gpus() if g.memory_gb), None)
            report.recommendations = out_of_memory_advice(
                settings, config, rerun, memory_mb, gpu_gb
            )
            return report
        found = estimate(measured, full_steps)
        if found is not None:
            report.estimated_full_wall_s, report.estimate_basis = found
            report.hardware = costs(found[0])
        return report

    finally:  # the cut-down configs and the runs' metrics are of no use once reported
        shutil.rmtree(work, ignore_errors=True)


def _steps_of(config: dict | None, steps: int) -> dict:
    key = next((k for k in pf.STEP_KEYS if config and isinstance(config.get(k), int)), None)
    return {key: steps} if key else {}
