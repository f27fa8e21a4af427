"""What a local job may ask of this machine: installed dependencies, CPUs, GPUs, memory.

Local jobs run with the server's own interpreter, so dependencies are checked rather than
installed; resources are checked against the machine and turned into a CPU pinning.
"""

from __future__ import annotations

import math
import os
import sys

from server.errors import UserError
from toolkits.jobs.hardware import detect_gpus, memory_gb
from toolkits.jobs.models import Resources


def check_installed(requirements: list[str]) -> None:
    if not requirements:
        return
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    missing = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise UserError(f"dependency {text!r} is not a valid requirement: {exc}.") from None
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            missing.append(text)
            continue
        if requirement.specifier and not requirement.specifier.contains(
            installed, prereleases=True
        ):
            missing.append(f"{text} (installed: {installed})")
    if missing:
        raise UserError(
            f"Local jobs run with the server's Python ({sys.executable}), which lacks: "
            f"{', '.join(missing)}. Install them there (pip install ...), drop them if not "
            "needed, or use backend='hf' or 'ray', which install dependencies per job."
        )


def placement(resources: Resources | None) -> tuple[list[int] | None, str]:
    """CPU ids to pin the job to, and a description of its hardware."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cpus = len(available) or (os.cpu_count() or 1)
    gpus = detect_gpus() if resources and resources.gpus else []
    if resources and resources.cpus and resources.cpus > cpus:
        raise UserError(
            f"resources.cpus={resources.cpus:g} but this machine has {cpus}. Ask for at most "
            f"{cpus}, or use backend='ray' or 'hf' for more."
        )
    if resources and resources.gpus and resources.gpus > len(gpus):
        raise UserError(
            f"resources.gpus={resources.gpus:g} but {len(gpus)} GPU(s) were detected here "
            "(nvidia-smi). Use backend='hf' with a GPU flavor, or a Ray cluster with GPUs."
        )
    total, _ = memory_gb()
    if resources and resources.memory_gb and total and resources.memory_gb > total:
        raise UserError(
            f"resources.memory_gb={resources.memory_gb:g} but this machine has {total:.0f} GB."
        )
    cpu_ids = available[: math.ceil(resources.cpus)] if resources and resources.cpus else None
    used = len(cpu_ids) if cpu_ids else cpus
    gpu_note = f", {math.ceil(resources.gpus)} GPU" if resources and resources.gpus else ""
    return cpu_ids or None, f"local: {used} CPU{'s' if used != 1 else ''}{gpu_note}"
