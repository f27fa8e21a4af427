"""The local backend: a workspace per sandbox, each exec under bubblewrap, a cgroup and rlimits.

Workspaces live at ``<MLINTERN_HOME>/sandboxes/<sandbox_id>/workspace`` (the jobs toolkit runs
jobs there), so they survive a server restart; each is its own size-capped filesystem where
the server runs as root (disk_quota.py). Each holds a ``.venv`` that sees the server's Python
packages (torch included) and takes new ones from ``pip install`` when the sandbox has network
access. Without working namespaces nothing runs unless the operator opted in.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from server import cgroups
from server.errors import UserError
from server.settings import Settings
from toolkits.sandbox.backends import bwrap, disk_quota, local_exec, local_workspace, usernet
from toolkits.sandbox.backends.base import (
    EntryInfo,
    ExecOutcome,
    ExecRequest,
    Provisioned,
    SandboxRef,
    SandboxSpec,
    decode_exit_status,
)
from toolkits.sandbox.backends.limits import (
    MARKER_VAR,
    PROCESSES,
    ExecLimits,
    check_memory,
    launcher,
    tasks_of_uid,
)
from toolkits.sandbox.backends.local_files import WorkspaceFS
from toolkits.sandbox.output import OutputCapture

log = logging.getLogger(__name__)

SANDBOX_UID = 65534  # "nobody": owns nothing on the host
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def unprivileged_identity() -> tuple[int, int] | None:
    """Whom execs run as: the unprivileged sandbox uid when the server is root, else as-is."""
    return (SANDBOX_UID, SANDBOX_UID) if os.geteuid() == 0 else None


class LocalReader:
    def __init__(self, fd: int):
        self._fd = fd
        self.size = os.fstat(fd).st_size

    async def read(self, start: int, length: int) -> bytes:
        return await asyncio.to_thread(os.pread, self._fd, length, start)

    async def close(self) -> None:
        os.close(self._fd)


class LocalBackend:
    name = "local"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.drop_to = unprivileged_identity()
        self._running: dict[str, set[asyncio.subprocess.Process]] = {}
        self._probe_result: bwrap.Probe | None = None

    def sandbox_dir(self, sandbox_id: str) -> Path:
        return self.settings.home / "sandboxes" / sandbox_id

    def _probe(self) -> bwrap.Probe:
        return bwrap.probe(self.settings.sandbox_bwrap, self.drop_to)

    async def _current_probe(self) -> bwrap.Probe:
        # The probe runs a process once per server; after that it is a cached value, and a
        # thread hop per exec would only add latency.
        if self._probe_result is None:
            self._probe_result = await asyncio.to_thread(self._probe)
        return self._probe_result

    def _require(self, probe: bwrap.Probe) -> None:
        if probe.usable or self.settings.sandbox_allow_unisolated:
            return
        raise UserError(
            f"Refusing to run a sandbox without namespaces: {probe.reason}. Install bubblewrap "
            f"(Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) so "
            f"commands run isolated. Only if commands may read this machine's files and reach "
            f"its loopback services, set MLINTERN_SANDBOX_ALLOW_UNISOLATED=true (rlimits only)."
        )

    def _fs(self, sandbox: SandboxRef) -> WorkspaceFS:
        disk_quota.ensure_mounted(Path(sandbox.workspace))
        return WorkspaceFS(Path(sandbox.workspace), owner=self.drop_to)

    def _quota(self) -> tuple[int, int] | None:
        if disk_quota.unavailable_reason():
            return None
        return self.settings.sandbox_disk_quota_mb, self.settings.sandbox_max_files

    # --- lifecycle ----------------------------------------------------------------------

    async def provision(self, spec: SandboxSpec, files: dict[PurePosixPath, bytes]) -> Provisioned:
        probe = await self._current_probe()
        self._require(probe)
        check_memory(spec.memory_mb)
        root = self.sandbox_dir(spec.sandbox_id)
        quota = await asyncio.to_thread(self._quota)
        try:
            workspace = await asyncio.to_thread(
                local_workspace.make, root, files, self.drop_to, quota
            )
            network, network_warning = await usernet.choose_mode(
                self.settings, spec, probe, self.drop_to, root
            )
        except BaseException:
            await asyncio.to_thread(local_workspace.remove, root)
            raise
        limiter = await self._limiter(probe)
        result = Provisioned(
            workspace=workspace,
            isolation="bubblewrap" if probe.usable else "rlimits-only",
            state={"uid": self.drop_to[0] if self.drop_to else os.getuid(), "network": network},
            limits={
                "max_file_mb": ExecLimits(0, 0).file_mb,
                "max_open_files": ExecLimits(0, 0).open_files,
                "max_processes": ExecLimits(0, 0).processes,
                "memory_per_sandbox": int(limiter.available),
                **({"disk_quota_mb": quota[0], "max_files": quota[1]} if quota else {}),
            },
            python=f"{workspace}/.venv/bin/python (a venv that sees the host's packages; "
            "pip installs into it when network=True)",
        )
        if not probe.usable:  # first: the create result's first line says so
            result.warnings.append(
                f"NOT ISOLATED ({probe.reason}; allowed by MLINTERN_SANDBOX_ALLOW_UNISOLATED): "
                f"commands run with rlimits and a timeout only, and can read this machine's "
                f"files and reach its loopback. Install bubblewrap for real isolation."
            )
            python = bwrap.host_python().executable
            if self.drop_to is not None and not local_workspace.reachable_by_others(python):
                # Without a mount namespace nothing can bind it where uid 65534 may look.
                result.warnings.append(
                    f"Commands run as uid {SANDBOX_UID}, which cannot reach the server's Python "
                    f"({python}); only system tools are usable until bubblewrap is installed."
                )
        if network_warning:
            result.warnings.append(network_warning)
        if not limiter.available:
            result.warnings.append(
                f"memory_mb and the process limit hold per process, not for the sandbox as a "
                f"whole ({limiter.reason})."
            )
        if quota is None:
            result.warnings.append(
                f"The workspace has no disk quota ({disk_quota.unavailable_reason()})."
            )
        for warning in result.warnings:
            log.warning("sandbox %s: %s", spec.sandbox_id, warning)
        return result

    async def destroy(self, sandbox: SandboxRef) -> None:
        for proc in list(self._running.get(sandbox.sandbox_id, ())):
            local_exec.kill_group(proc)
        limiter = await asyncio.to_thread(cgroups.detect)
        await asyncio.to_thread(limiter.remove, sandbox.sandbox_id)
        await asyncio.to_thread(local_workspace.remove, self.sandbox_dir(sandbox.sandbox_id))

    async def keep_alive(self, sandbox: SandboxRef) -> None:
        return None

    # --- exec ---------------------------------------------------------------------------

    async def exec(
        self,
        sandbox: SandboxRef,
        request: ExecRequest,
        stdout: OutputCapture,
        stderr: OutputCapture,
    ) -> ExecOutcome:
        probe = await self._current_probe()
        self._require(probe)
        token = secrets.token_hex(8)
        limiter = await self._limiter(probe)
        group = await asyncio.to_thread(self._enter_group, limiter, sandbox)
        oom_before = limiter.oom_kills(sandbox.sandbox_id)
        network = (
            usernet.for_exec(self.settings, sandbox, self.sandbox_dir(sandbox.sandbox_id), group)
            if probe.usable
            else None
        )
        argv, limit_in_child = await self._argv(sandbox, request, probe, limiter, group, network)
        options: dict = {}
        if not probe.usable and self.drop_to is not None:
            options = {"user": self.drop_to[0], "group": self.drop_to[1], "extra_groups": []}
        started = time.monotonic()
        proc = await local_exec.spawn(
            sandbox,
            argv,
            env=self._env(sandbox, request, token, isolated=probe.usable),
            with_stdin=request.stdin is not None,
            preexec=limit_in_child,
            network=network,
            options=options,
        )
        timed_out, notes = await local_exec.supervise(
            proc,
            request,
            stdout,
            stderr,
            running=self._running.setdefault(sandbox.sandbox_id, set()),
            marker=None if probe.usable else token,
            network=network,
        )
        if limiter.oom_kills(sandbox.sandbox_id) > oom_before:
            notes.append(
                f"The kernel killed a process of this sandbox at its memory limit "
                f"(memory_mb={sandbox.memory_mb}, for all its processes together)."
            )
        exit_code, sig = decode_exit_status(proc.returncode)
        return ExecOutcome(
            exit_code=exit_code,
            signal=sig,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
            isolation="bubblewrap" if probe.usable else "rlimits-only",
            notes=notes,
        )

    async def _argv(
        self,
        sandbox: SandboxRef,
        request: ExecRequest,
        probe: bwrap.Probe,
        limiter: cgroups.Cgroups,
        group: list[str],
        network: usernet.ExecGate | None,
    ) -> tuple[list[str], Callable[[], Any] | None]:
        """The full command line (bubblewrap, the limits launcher, the command) and the
        function that sets the limits in the child."""
        argv = self._command(sandbox, request)
        if probe.usable:
            argv = [
                *bwrap.bwrap_argv(
                    probe.bwrap or "bwrap",
                    workspace=sandbox.workspace,
                    python=bwrap.host_python(),
                    network=usernet.mode_of(sandbox),
                    tmpfs_bytes=sandbox.memory_mb * 1024 * 1024,
                    drop_to=self.drop_to,
                    setpriv=probe.setpriv,
                    extra=network.bwrap_args() if network else (),
                ),
                *argv,
            ]
        # Without root the process limit counts every task of our uid, so grant it on top.
        extra = 0 if self.drop_to else await asyncio.to_thread(tasks_of_uid, os.getuid())
        prefix, limit_in_child = launcher(ExecLimits(sandbox.memory_mb, sandbox.cpu_s), extra)
        # Under bubblewrap the gate enters the cgroup; without it, the command itself does.
        argv = [*prefix, *argv] if probe.usable else limiter.wrap(group, [*prefix, *argv])
        return argv, limit_in_child

    async def _limiter(self, probe: bwrap.Probe) -> cgroups.Cgroups:
        if not probe.usable and self.drop_to is not None:
            # Commands start as the sandbox uid there, which may not enter a cgroup.
            return cgroups.Cgroups((), "", "commands start unprivileged without bubblewrap")
        return await asyncio.to_thread(cgroups.detect)

    def _enter_group(self, limiter: cgroups.Cgroups, sandbox: SandboxRef) -> list[str]:
        """The sandbox's cgroup (all its processes share memory_mb), its workspace mounted."""
        disk_quota.ensure_mounted(Path(sandbox.workspace))
        if not limiter.available:
            return []
        # A few more than RLIMIT_NPROC: bubblewrap, its reaper and the entering shell count.
        return limiter.prepare(sandbox.sandbox_id, sandbox.memory_mb << 20, PROCESSES + 16)

    def _command(self, sandbox: SandboxRef, request: ExecRequest) -> list[str]:
        if request.language == "python":
            interpreter = f"{sandbox.workspace}/.venv/bin/python"
            if not os.path.exists(interpreter):
                interpreter = bwrap.host_python().executable
            return [interpreter, "-c", request.command]
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        return [shell, "-c", request.command]

    def _env(
        self, sandbox: SandboxRef, request: ExecRequest, token: str, *, isolated: bool
    ) -> dict[str, str]:
        workspace = sandbox.workspace
        python_bin = bwrap.host_python().bin_dir
        env = {
            "PATH": f"{workspace}/.venv/bin:{python_bin}:{SYSTEM_PATH}",
            "HOME": workspace,
            "LANG": "C.UTF-8",
            "VIRTUAL_ENV": f"{workspace}/.venv",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            # Under bubblewrap /tmp is private; without it, keep temp files in the workspace.
            "TMPDIR": "/tmp" if isolated else f"{workspace}/.tmp",
        }
        env.update(request.env)
        if not isolated:  # how leftovers are found without a PID namespace (see limits.py)
            env[MARKER_VAR] = token
        return env

    # --- files --------------------------------------------------------------------------

    async def stat(self, sandbox: SandboxRef, path: PurePosixPath) -> EntryInfo:
        return await asyncio.to_thread(self._fs(sandbox).stat, path)

    async def open_reader(self, sandbox: SandboxRef, path: PurePosixPath) -> LocalReader:
        return LocalReader(await asyncio.to_thread(self._fs(sandbox).open_file, path))

    async def list_dir(self, sandbox: SandboxRef, path: PurePosixPath) -> list[EntryInfo]:
        return await asyncio.to_thread(self._fs(sandbox).list_dir, path, 1000)

    async def write_file(self, sandbox: SandboxRef, path: PurePosixPath, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._fs(sandbox).write, path, data)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise UserError(
                f"The workspace of {sandbox.sandbox_id} is full (its disk quota is "
                f"{self.settings.sandbox_disk_quota_mb} MiB and "
                f"{self.settings.sandbox_max_files} files); {path} may be incomplete. Delete "
                f"files with sandbox_exec (e.g. rm) and write it again."
            ) from None

    async def deliver_file(self, sandbox: SandboxRef, source: Path, path: PurePosixPath) -> None:
        await asyncio.to_thread(self._fs(sandbox).deliver, source, path)


def create(settings: Settings) -> LocalBackend:
    return LocalBackend(settings)
