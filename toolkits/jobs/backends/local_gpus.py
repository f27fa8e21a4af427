"""GPU passthrough for isolated local jobs: device nodes in, CUDA_VISIBLE_DEVICES set.

Standard library only, with no package import: scripts/gpu_check.sh loads it by path on a GPU
machine that may not have mlintern's dependencies. The driver's user-space libraries live under
/usr (bound read-only for every job) or come with the Python packages (torch's CUDA wheels).
"""

from __future__ import annotations

import math
from pathlib import Path

GPU_DEVICES = ("nvidia[0-9]*", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
GPU_DEVICE_DIRS = ("nvidia-caps", "dri")
# What CUDA and NVML read beyond the device nodes and /usr (PCI topology, persistence daemon).
GPU_READONLY = ("/sys", "/etc/nvidia", "/run/nvidia-persistenced")


def gpu_bind_args(dev: Path = Path("/dev")) -> list[str]:
    """bubblewrap arguments that pass this machine's GPUs through; [] when it has none."""
    nodes = sorted({p for pattern in GPU_DEVICES for p in dev.glob(pattern)})
    if not nodes:
        return []
    nodes += [dev / name for name in GPU_DEVICE_DIRS if (dev / name).exists()]
    args: list[str] = []
    for node in nodes:
        args += ["--dev-bind", str(node), f"/dev/{node.name}"]
    for path in GPU_READONLY:
        args += ["--ro-bind-try", path, path]
    return args


def gpu_environment(gpus: float | None) -> dict[str, str]:
    """Which GPUs the job uses: the first ``gpus`` of them, none for gpus=0, all if unsaid."""
    if gpus is None:
        return {}
    return {"CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in range(math.ceil(gpus)))}
