"""A stand-in for `nvidia-smi`'s two CSV queries preflight makes, for machines without a GPU.

Also answers the GPU inventory query (name, memory.total). State comes from the JSON file named by $FAKE_NVIDIA_SMI_STATE: processes whose command line
contains ``marker`` are "on the GPU". In ``process`` mode each is listed with ``per_process_mb``;
in ``container`` mode the driver lists a pid from another pid namespace instead (as in a
container), and only the device total rises by ``device_extra_mb`` over ``baseline_mb``.
Installed on PATH by `install(bin_dir)`; the real binary's output format (csv,noheader,nounits).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FOREIGN_PID = "4194305"  # above Linux's pid_max: never a pid on this machine


def _marked(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or entry.name == str(os.getpid()):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and "nvidia_smi" not in cmdline and "bash -c" not in cmdline:
            found.append(entry.name)
    return found


def main(argv: list[str]) -> int:
    state = json.loads(Path(os.environ["FAKE_NVIDIA_SMI_STATE"]).read_text())
    pids = _marked(state["marker"])
    if "--query-gpu=name,memory.total" in argv:
        print(f"{state.get('gpu_name', 'Fake T4')}, {state.get('total_mb', 16384)}")
    elif "--query-gpu=memory.used" in argv:
        print(state["baseline_mb"] + (state["device_extra_mb"] if pids else 0))
    elif "--query-compute-apps=pid,used_memory" in argv:
        if state["mode"] == "container" and pids:
            print(f"{FOREIGN_PID}, {state['device_extra_mb']}")
        elif state["mode"] == "process":
            for pid in pids:
                print(f"{pid}, {state['per_process_mb']}")
    else:
        print(f"fake nvidia-smi: unsupported arguments {argv}", file=sys.stderr)
        return 2
    return 0


def install(bin_dir: Path) -> Path:
    """An executable `nvidia-smi` in bin_dir that runs this module; put bin_dir first on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "nvidia-smi"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    exe.chmod(0o755)
    return exe


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
