"""jobs_preflight's GPU memory figure, with a stand-in nvidia-smi on PATH (no GPU here; the real
binary is exercised by scripts/gpu_check.sh on a GPU machine).

The job is a `command` (bash -c "python ..."), so the process on the GPU is the job's grandchild:
the figure must come from the whole process group. In a container the driver lists foreign pids;
then the device-wide increase over the baseline is reported, and said to be device-wide.
"""

from __future__ import annotations

import json
import sys

import pytest
from fakes import nvidia_smi
from jobs_support import jobs_server, mcp_client

pytestmark = pytest.mark.slow


def _setup(tmp_path, monkeypatch, mode: str) -> str:
    marker = f"gpu-marker-{mode}"
    state = tmp_path / "smi.json"
    state.write_text(
        json.dumps(
            {
                "mode": mode,
                "marker": marker,
                "per_process_mb": 1234,
                "baseline_mb": 1000,
                "device_extra_mb": 2500,
            }
        )
    )
    nvidia_smi.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_NVIDIA_SMI_STATE", str(state))
    script = tmp_path / "train_gpu.py"
    script.write_text(
        "import time\n"
        "for step in range(1, 31):\n"
        "    print(f'step {step}', flush=True)\n"
        "    time.sleep(0.1)\n"
    )
    return f"{sys.executable} {script} {marker}; echo done"  # bash forks: python is a grandchild


@pytest.mark.parametrize(
    ("mode", "peak", "basis", "shown"),
    [
        ("process", 1234.0, "process", "1234.0 MB\n"),
        ("container", 2500.0, "device", "(device-wide)"),
    ],
)
async def test_gpu_memory_of_the_job_group(
    settings, tmp_path, monkeypatch, mode, peak, basis, shown
):
    command = _setup(tmp_path, monkeypatch, mode)
    async with mcp_client(jobs_server(settings)) as c:
        result = await c.call_tool("jobs_preflight", {"command": command, "seconds": 30})
    measured = result.structured_content["measured"]
    assert measured["last_step"] == 30
    assert measured["peak_gpu_mb"] == peak and measured["gpu_memory_basis"] == basis
    assert f"peak GPU memory {peak}" in result.content[0].text
    assert shown in result.content[0].text + "\n"
    assert "no GPU memory measured" not in result.content[0].text


async def test_no_nvidia_smi_no_gpu_figure(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    script = tmp_path / "cpu.py"
    script.write_text("for s in range(1, 4):\n    print(f'step {s}', flush=True)\n")
    async with mcp_client(jobs_server(settings)) as c:
        result = await c.call_tool("jobs_preflight", {"script": str(script), "seconds": 20})
    measured = result.structured_content["measured"]
    assert measured["peak_gpu_mb"] is None and measured["gpu_memory_basis"] is None
    assert "no GPU memory measured" in result.content[0].text


async def test_cuda_out_of_memory_advice_is_about_the_gpu(settings, tmp_path, monkeypatch):
    """A CUDA OOM: the smaller batch is tried and verified; the bigger hardware is chosen by
    memory per GPU (twice the 16 GB card's: an L40S at 48 GB), not by host RAM."""
    _setup(tmp_path, monkeypatch, "process")
    script = tmp_path / "cuda_oom.py"
    script.write_text(
        "import sys, yaml\n"
        "cfg = yaml.safe_load(open(sys.argv[1]))\n"
        "if cfg['batch_size'] > 1000:\n"
        "    print('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 9.00 GiB')\n"
        "    sys.exit(1)\n"
        "for step in range(1, cfg['steps'] + 1):\n"
        "    print(f'step {step}', flush=True)\n"
    )
    config = tmp_path / "cfg.yaml"
    config.write_text("steps: 100\nbatch_size: 4000\n")
    async with mcp_client(jobs_server(settings)) as c:
        result = await c.call_tool(
            "jobs_preflight",
            {
                "script": str(script),
                "script_args": [str(config)],
                "config_file": str(config),
                "steps": 5,
            },
        )
    data = result.structured_content
    assert data["measured"]["out_of_memory"] is True
    assert data["measured"]["out_of_memory_on"] == "gpu"
    first, last = data["recommendations"][0], data["recommendations"][-1]
    assert first["config_changes"] == {"batch_size": 1000, "gradient_accumulation_steps": 4}
    assert first["verified"] is True
    assert last["change"] == "bigger hardware: l40sx1 (48 GB per GPU)"
    assert last["usd_per_hour"] == 1.8
