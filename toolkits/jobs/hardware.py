"""What this machine offers local jobs, and the Hugging Face Jobs price table used when the API
cannot be asked. GPUs are found with nvidia-smi rather than torch, whose import alone takes
longer than a tool call should."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from toolkits.jobs.models import GpuInfo, HfFlavor

# Hourly prices (USD) of Hugging Face Jobs flavors, from huggingface.co/pricing when this table
# was written. Only shown when the hardware API cannot be reached, and marked as such.
HF_FALLBACK_FLAVORS: list[HfFlavor] = [
    HfFlavor(
        name="cpu-basic", pretty_name="CPU Basic", cpu="2 vCPU", ram="16 GB", usd_per_hour=0.01
    ),
    HfFlavor(
        name="cpu-upgrade", pretty_name="CPU Upgrade", cpu="8 vCPU", ram="32 GB", usd_per_hour=0.03
    ),
    HfFlavor(
        name="t4-small",
        pretty_name="Nvidia T4 - small",
        accelerator="1x T4 (16 GB)",
        usd_per_hour=0.40,
    ),
    HfFlavor(
        name="t4-medium",
        pretty_name="Nvidia T4 - medium",
        accelerator="1x T4 (16 GB)",
        usd_per_hour=0.60,
    ),
    HfFlavor(
        name="l4x1", pretty_name="1x Nvidia L4", accelerator="1x L4 (24 GB)", usd_per_hour=0.80
    ),
    HfFlavor(
        name="l4x4", pretty_name="4x Nvidia L4", accelerator="4x L4 (96 GB)", usd_per_hour=3.80
    ),
    HfFlavor(
        name="a10g-small",
        pretty_name="Nvidia A10G - small",
        accelerator="1x A10G (24 GB)",
        usd_per_hour=1.00,
    ),
    HfFlavor(
        name="a10g-large",
        pretty_name="Nvidia A10G - large",
        accelerator="1x A10G (24 GB)",
        usd_per_hour=1.50,
    ),
    HfFlavor(
        name="a10g-largex2",
        pretty_name="2x Nvidia A10G - large",
        accelerator="2x A10G (48 GB)",
        usd_per_hour=3.00,
    ),
    HfFlavor(
        name="a10g-largex4",
        pretty_name="4x Nvidia A10G - large",
        accelerator="4x A10G (96 GB)",
        usd_per_hour=5.00,
    ),
    HfFlavor(
        name="l40sx1",
        pretty_name="1x Nvidia L40S",
        accelerator="1x L40S (48 GB)",
        usd_per_hour=1.80,
    ),
    HfFlavor(
        name="l40sx4",
        pretty_name="4x Nvidia L40S",
        accelerator="4x L40S (192 GB)",
        usd_per_hour=8.30,
    ),
    HfFlavor(
        name="l40sx8",
        pretty_name="8x Nvidia L40S",
        accelerator="8x L40S (384 GB)",
        usd_per_hour=23.50,
    ),
    HfFlavor(
        name="a100-large",
        pretty_name="Nvidia A100 - large",
        accelerator="1x A100 (80 GB)",
        usd_per_hour=2.50,
    ),
    HfFlavor(
        name="h200", pretty_name="Nvidia H200", accelerator="1x H200 (141 GB)", usd_per_hour=5.00
    ),
]


def usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def memory_gb() -> tuple[float | None, float | None]:
    """(total, available) from /proc/meminfo; (None, None) where that does not exist."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None, None
    values = {}
    for line in lines:
        name, _, rest = line.partition(":")
        if name in ("MemTotal", "MemAvailable"):
            values[name] = int(rest.split()[0]) / 1024 / 1024  # kB -> GB
    return values.get("MemTotal"), values.get("MemAvailable")


def nvidia_smi_csv(query: str, timeout: float = 10) -> list[list[str]] | None:
    """Rows of ``nvidia-smi --query-<query> --format=csv,noheader,nounits``, cells stripped;
    None without nvidia-smi or when it fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, f"--query-{query}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [[cell.strip() for cell in row.split(",")] for row in out.splitlines() if row.strip()]


def detect_gpus() -> list[GpuInfo]:
    gpus = []
    for row in nvidia_smi_csv("gpu=name,memory.total") or []:
        name, memory = ",".join(row[:-1]), row[-1]
        try:
            gpus.append(GpuInfo(name=name, memory_gb=round(float(memory) / 1024, 1)))
        except ValueError:
            gpus.append(GpuInfo(name=", ".join(row)))
    return gpus
