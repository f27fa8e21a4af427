#!/usr/bin/env bash
# Does a GPU reach an isolated local job? Run on a machine with an NVIDIA GPU, from the repo:
#
#   bash scripts/gpu_check.sh
#
# Needs: bwrap (bubblewrap), and setpriv (util-linux) when run as root; python3. For the CUDA
# check, torch with CUDA in that python3 (without it, nvidia-smi inside the job is tried).
# Step 1 uses only the standard library: it loads the same bubblewrap argument construction a
# job uses (toolkits/sandbox/backends/bwrap.py, toolkits/jobs/backends/local_gpus.py) by path.
# Step 2, only where mlintern's dependencies import, submits a real local job (resources.gpus=1)
# through JobService, as jobs_submit would. Prints "GPU VISIBLE INSIDE: YES" per step that works.
set -uo pipefail
cd "$(dirname "$0")/.."

command -v bwrap >/dev/null || { echo "bwrap is not installed (apt-get install bubblewrap)"; exit 2; }
ls /dev/nvidia* >/dev/null 2>&1 || echo "note: no /dev/nvidia* on this host: expect NO"

export MLINTERN_GPU_CHECK='
import glob, os, shutil, subprocess
print("inside: uid", os.getuid(), "CUDA_VISIBLE_DEVICES =", os.environ.get("CUDA_VISIBLE_DEVICES"))
print("inside: device nodes", sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/*")))
smi = shutil.which("nvidia-smi")
listed = subprocess.run([smi, "-L"], capture_output=True, text=True).stdout.strip() if smi else ""
print("inside: nvidia-smi -L:", listed or "(none)")
try:
    import torch
except ImportError:
    print("inside: torch is not installed; judging by nvidia-smi")
    visible = bool(listed)
else:
    visible = torch.cuda.is_available()
    print("inside: torch", torch.__version__, "cuda available:", visible, torch.cuda.device_count())
    if visible:
        x = torch.randn(512, 512, device="cuda")
        print("inside: matmul on", torch.cuda.get_device_name(0), "->", float((x @ x).abs().sum()))
print("GPU VISIBLE INSIDE:", "YES" if visible else "NO")
'

echo "== step 1: bubblewrap arguments of an isolated job (standard library only)"
timeout 300 python3 - <<'EOF'
import importlib.util, os, shutil, subprocess, sys, tempfile
from pathlib import Path

def load(name, path):
    spec = importlib.util.spec_from_file_location(name, Path(path).resolve())
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module

bwrap = load("_mlintern_bwrap", "toolkits/sandbox/backends/bwrap.py")
gpus = load("_mlintern_gpus", "toolkits/jobs/backends/local_gpus.py")
drop_to = (65534, 65534) if os.geteuid() == 0 else None
devices = gpus.gpu_bind_args()
print("host: GPU arguments", " ".join(devices) or "(none: no /dev/nvidia*)")
with tempfile.TemporaryDirectory(prefix="mlintern-gpu-") as work:
    os.chmod(work, bwrap.WORKSPACE_MODE)
    if drop_to:
        os.chown(work, *drop_to)
    argv = bwrap.bwrap_argv(
        shutil.which("bwrap"), workspace=work, python=bwrap.host_python(), network="none",
        tmpfs_bytes=1 << 30, drop_to=drop_to, setpriv=shutil.which("setpriv"), extra=devices,
    )
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8",
           **gpus.gpu_environment(1)}
    check = os.environ["MLINTERN_GPU_CHECK"]
    done = subprocess.run([*argv, bwrap.host_python().executable, "-c", check], env=env,
                          capture_output=True, text=True, timeout=240)
    print(done.stdout + done.stderr, end="")
    print("exit code", done.returncode)
EOF

echo "== step 2: a real local job with resources.gpus=1 (needs mlintern's dependencies)"
if ! python3 -c "import toolkits.jobs.core" 2>/dev/null; then
  echo "skipped: mlintern's dependencies do not import here (pip install -e . to run it)"
  exit 0
fi
timeout 300 python3 - <<'EOF'
import os, sys, tempfile, time
from pathlib import Path
from server.errors import UserError
from server.roots import Roots, in_force
from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService, build_spec

with tempfile.TemporaryDirectory(prefix="mlintern-gpu-job-") as tmp:
    work = Path(tmp) / "work"
    work.mkdir()
    if os.geteuid() == 0:
        os.chown(work, 65534, 65534)  # isolated jobs of a root server run as uid 65534
    (work / "check.py").write_text(os.environ["MLINTERN_GPU_CHECK"])
    settings = Settings(home=Path(tmp) / "home", roots=[Path(tmp)], _env_file=None)
    service = JobService(settings, StateStore(settings.state_path))
    try:
        with in_force(Roots.for_settings(settings)):
            spec = build_spec(script=str(work / "check.py"), resources={"gpus": 1})
            job = service.submit(spec)
    except UserError as exc:
        sys.exit(f"jobs_submit refused: {exc}")
    print("job", job.job_id, "·", job.hardware)
    deadline = time.monotonic() + 240
    while not (job := service.refresh(job.job_id)).is_terminal and time.monotonic() < deadline:
        time.sleep(0.5)
    print("status", job.status, "·", job.message)
    print(service.logs(job.job_id).text)
EOF
