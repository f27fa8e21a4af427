"""Local jobs in the sandbox's kind of isolation: bubblewrap, internet only, a cgroup each.

A job sees the system and the server's Python read-only, its working directory and metrics
directory writable, its script's folder and a snapshot of its config file read-only, a private
/tmp and /dev/shm, a token-free Hugging Face home shared by local jobs, the operator's Hugging
Face hub cache read-only, and the GPUs (device nodes; the driver libraries come with /usr). Not
MLINTERN_HOME (state, other jobs, sandboxes), not the operator's token, not credential files
at the top of the folders it is given. Its network is its own namespace that slirp4netns
connects to the internet with the sandbox's egress rules (``server/egress.py``): never this
machine's addresses, private or link-local ranges. When the server is root the job runs as
the sandbox's unprivileged uid, so code planted in a workspace runs with no more rights than
the sandbox that wrote it. Without a working bubblewrap, jobs are refused, not run bare.
GPU passthrough is local_gpus.py.

The server builds the whole command line here when the job is submitted; the detached runner
(local_runner.py) starts it, passing the exec gate (``server/exec_gate.py``) at ``GATE_MARK``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server import cgroups
from server.errors import UserError
from server.exec_gate import RESOLV_CONF
from server.roots import current as current_roots
from server.roots import is_credential
from server.settings import Settings
from toolkits.jobs.backends.local_gpus import gpu_bind_args
from toolkits.jobs.hardware import memory_gb
from toolkits.jobs.models import JobRecord

GATE_MARK = "@mlintern-exec-gate@"  # the runner puts the gate's --info-fd/--block-fd here
JOB_PIDS = 8192  # tasks (threads included) per job: dataloaders times threads per core
CONFIG_LIMIT = 16 << 20  # bytes of a config file a job is given
CACHE_DIR = "job-cache"  # under MLINTERN_HOME: XDG and Hugging Face caches of local jobs


@dataclass
class Isolated:
    argv: list[str]
    env: dict[str, str]  # set in the job's environment (replacing the server's values)
    gate: dict[str, str | None]  # what the runner's exec gate needs (slirp4netns, resolv.conf)
    notes: list[str] = field(default_factory=list)
    summary: str = ""


def hf_hub_cache() -> Path:
    """The operator's Hugging Face hub cache (shown read-only; the token beside it is not)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface"
    return Path(home) / "hub"


def allows(path: Path, uid: int, bits: int) -> bool:
    """Whether ``uid`` has ``bits`` (as "other" bits: 4 read, 2 write, 1 search) on ``path``,
    with no group (setpriv clears them)."""
    info = path.stat()
    shift = 6 if info.st_uid == uid else 0
    return (info.st_mode >> shift) & bits == bits


def check_reachable(cwd: Path, script: Path | None, uid: int) -> None:
    """Refuse now a job its uid could not even start: a working folder it cannot enter, or a
    script it cannot read (the folders above them do not matter: they are not bound)."""
    needs = [(cwd, 1, "enter")]
    if script is not None:
        needs += [(script.parent, 1, "enter"), (script, 4, "read")]
    for path, bits, what in needs:
        if not allows(path, uid, bits):
            folder = path if path.is_dir() else path.parent
            raise UserError(
                f"Isolated jobs of a root server run as uid {uid}, which cannot {what} {path}. "
                f"Make it reachable (chmod o+rx {folder}, o+r on the script; or chown -R {uid} "
                f"{folder}), run the job in a sandbox workspace, or let the operator set "
                f"MLINTERN_JOBS_ISOLATION=off."
            )


def credential_masks(folder: Path) -> list[str]:
    """Hide the well-known credential files at the top of a folder the job is given."""
    args: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return args
    for entry in entries:
        if not is_credential(Path(entry.path) / "x" if entry.is_dir() else Path(entry.path)):
            continue
        if entry.is_dir(follow_symlinks=False):
            args += ["--tmpfs", entry.path]
        else:
            args += ["--ro-bind", "/dev/null", entry.path]
    return args


def cgroup_spec(job: JobRecord) -> tuple[dict | None, str]:
    """The job's cgroup (made by its runner) and how its limits read; None where unavailable."""
    limiter = cgroups.detect()
    resources = job.spec.resources
    total, _ = memory_gb()
    asked = resources.memory_gb if resources and resources.memory_gb else None
    memory = asked or total
    if not limiter.available:
        return None, f"no per-job memory or process limit ({limiter.reason})"
    if memory is None:
        return None, "no per-job memory limit (this machine's memory is unknown)"
    spec = {"name": f"job-{job.job_id}", "memory_bytes": int(memory * 2**30), "pids": JOB_PIDS}
    cap = f"memory {asked:g} GB" if asked else "memory: this machine's (no resources.memory_gb)"
    return spec, f"cgroup {limiter.version}: {cap}, {JOB_PIDS} tasks"


def _offline_sandbox(settings: Settings, cwd: Path) -> str | None:
    """The sandbox whose workspace ``cwd`` is in, if it has no network: the job has none."""
    sandboxes = settings.home / "sandboxes"
    if not cwd.is_relative_to(sandboxes) or cwd == sandboxes:
        return None
    from server.state import StateStore
    from toolkits.sandbox.records import SandboxRecords

    sandbox_id = cwd.relative_to(sandboxes).parts[0]
    record = SandboxRecords(StateStore(settings.state_path)).get(sandbox_id)
    return sandbox_id if record is not None and not record.network else None


def _network(
    settings: Settings, job_dir: Path, cwd: Path, probe: Any, drop_to: tuple[int, int] | None
) -> tuple[str, dict, str]:
    """(network mode, gate settings, a note when the job gets no network)."""
    from toolkits.sandbox.backends.usernet import probe_user_network

    sandbox = _offline_sandbox(settings, cwd)
    if sandbox:
        reason = f"it runs in the workspace of {sandbox}, created with network=False"
    elif os.geteuid() != 0:
        reason = "making a network namespace for slirp4netns needs a server running as root"
    else:
        reason = probe_user_network(
            probe.bwrap or "bwrap", drop_to, probe.setpriv, settings.sandbox_slirp4netns
        )
    if reason:
        return "none", {}, f"no network: {reason}"
    resolv = job_dir / "resolv.conf"
    resolv.write_text(RESOLV_CONF)
    resolv.chmod(0o644)
    gate = {"slirp": shutil.which(settings.sandbox_slirp4netns), "resolv_conf": str(resolv)}
    return "user", gate, ""


def isolate(
    settings: Settings,
    job: JobRecord,
    argv: list[str],
    *,
    cwd: Path,
    metrics_dir: Path,
    script: Path | None,
    config: Path | None,
) -> Isolated:
    """``argv`` under bubblewrap; a clear refusal when bubblewrap cannot isolate here."""
    from toolkits.sandbox.backends import bwrap
    from toolkits.sandbox.backends.local import unprivileged_identity

    drop_to = unprivileged_identity()
    probe = bwrap.probe(settings.sandbox_bwrap, drop_to)
    if not probe.usable:
        raise UserError(
            f"Local jobs run isolated and {probe.reason}. Install bubblewrap (Debian/Ubuntu: "
            f"apt-get install bubblewrap slirp4netns iproute2; Fedora: dnf install bubblewrap "
            f"slirp4netns), or, only if jobs may read this machine's files and reach its "
            f"services, set MLINTERN_JOBS_ISOLATION=off."
        )
    cache = settings.home / CACHE_DIR
    cache.mkdir(mode=0o700, exist_ok=True)
    writable = [cwd, metrics_dir, cache]
    notes: list[str] = []
    job_dir = Path(job.job_dir)
    job_home = cwd
    if drop_to is not None:
        # mlintern's own folders (a command job's cwd is in its job dir): the job's uid writes
        for path in {metrics_dir, cache, *([cwd] if cwd.is_relative_to(job_dir) else [])}:
            os.chown(path, *drop_to)
        if cwd.is_relative_to(job_dir):
            cwd.chmod(bwrap.WORKSPACE_MODE)  # bubblewrap enters it before dropping to the uid
        check_reachable(cwd, script, drop_to[0])
        if not allows(cwd, drop_to[0], 3):
            job_home = Path("/tmp")  # its private tmpfs: caches and configs still work
            notes.append(
                f"working_dir {cwd} is not writable by the job's uid {drop_to[0]} (the server "
                f"runs as root): write outputs under $MLINTERN_METRICS_DIR, or chown the folder"
            )
    mode, gate, network_note = _network(settings, job_dir, cwd, probe, drop_to)
    notes += [network_note] if network_note else []
    hub = hf_hub_cache()
    script_dir = script.parent if script else None
    readable = [p for p in (script_dir, hub) if p is not None and p.exists()]
    outside = [p for p in readable if not _inside_any(p, writable)]
    # MLINTERN_HOME inside a folder the job is given (a working dir above it): hidden.
    bound = [cwd, *outside]
    extra = ["--tmpfs", str(settings.home)] if _inside_any(settings.home, bound) else []
    for path in writable[1:]:
        extra += [*bwrap.mount_point(str(path)), "--bind", str(path), str(path)]
    for folder in dict.fromkeys([cwd, *(p for p in outside if p.is_dir())]):
        extra += credential_masks(folder)
    if config is not None:
        extra += _config_snapshot(config, job_dir)
    extra += gpu_bind_args()
    extra.append(GATE_MARK)
    total, _ = memory_gb()
    prefix = bwrap.bwrap_argv(
        probe.bwrap or "bwrap",
        workspace=str(cwd),
        python=bwrap.host_python(),
        network=mode,  # type: ignore[arg-type]
        tmpfs_bytes=int((total or 2) * 2**30 / 2),  # a cap, not a reservation
        drop_to=drop_to,
        setpriv=probe.setpriv,
        extra=extra,
        readonly=[str(p) for p in outside],
    )
    env = {
        "HOME": str(job_home),
        "TMPDIR": "/tmp",
        "XDG_CACHE_HOME": str(cache),
        "HF_HOME": str(cache / "huggingface"),
        "HF_HUB_CACHE": str(cache / "huggingface" / "hub"),  # the server's may be set
    }
    who = f"uid {drop_to[0]}" if drop_to else "the server's uid"
    net = "internet only" if mode == "user" else "no network"
    return Isolated(
        argv=[*prefix, *argv],
        env=env,
        gate=gate,
        notes=notes,
        summary=f"isolated (bubblewrap, {who}, {net})",
    )


def _config_snapshot(config: Path, job_dir: Path) -> list[str]:
    """The config file as it is now, shown read-only at its own path. A copy, read race-free
    through the roots: the server may have written it private (experiments_restart), and the
    job's uid must still read it."""
    from toolkits.sandbox.backends import bwrap

    snapshot = job_dir / "config" / config.name
    snapshot.parent.mkdir(mode=0o700, exist_ok=True)
    data = current_roots().read_bytes(config, limit=CONFIG_LIMIT, what="config file")
    snapshot.write_bytes(data)
    snapshot.chmod(0o644)
    return [*bwrap.mount_point(str(config)), "--ro-bind", str(snapshot), str(config)]


def _inside_any(path: Path, folders: list[Path]) -> bool:
    return any(path == f or path.is_relative_to(f) for f in folders)
