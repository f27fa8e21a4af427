"""The local backend: a workspace directory per sandbox, each exec under bubblewrap + rlimits.

Workspaces live at ``<MLINTERN_HOME>/sandboxes/<sandbox_id>/workspace`` (the jobs toolkit runs
jobs there), so they survive a server restart. Each workspace holds a ``.venv`` that sees the
server's Python packages (torch included) and takes new ones from ``pip install`` when the
sandbox has network access.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import stat
import sys
import time
import venv
from pathlib import Path, PurePosixPath

from server.errors import UserError
from server.settings import Settings
from toolkits.sandbox.backends import bwrap, usernet
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
    ExecLimits,
    kill_marked,
    launcher,
    tasks_of_uid,
)
from toolkits.sandbox.backends.local_files import WorkspaceFS
from toolkits.sandbox.output import OutputCapture

log = logging.getLogger(__name__)

SANDBOX_UID = 65534  # "nobody": owns nothing on the host
CHUNK = 64 * 1024
DRAIN_S = 2.0  # how long to wait for pipes to close once every process is gone
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PIP_WRAPPER = """#!/bin/sh
# pip of this sandbox's virtualenv: system packages stay visible, new ones land here.
exec "$(dirname "$0")/python" -m pip "$@"
"""


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
        if not probe.usable and self.settings.sandbox_require_isolation:
            raise UserError(
                f"Refusing to run without namespaces: {probe.reason}. Install bubblewrap "
                f"(Debian/Ubuntu: apt-get install bubblewrap) or unset "
                f"MLINTERN_SANDBOX_REQUIRE_ISOLATION to accept rlimits-only sandboxes."
            )

    def _fs(self, sandbox: SandboxRef) -> WorkspaceFS:
        return WorkspaceFS(Path(sandbox.workspace), owner=self.drop_to)

    # --- lifecycle ----------------------------------------------------------------------

    async def provision(self, spec: SandboxSpec, files: dict[PurePosixPath, bytes]) -> Provisioned:
        probe = await self._current_probe()
        self._require(probe)
        try:
            workspace = await asyncio.to_thread(self._make_workspace, spec.sandbox_id, files)
        except BaseException:
            await asyncio.to_thread(_remove_tree, self.sandbox_dir(spec.sandbox_id))
            raise
        network, network_warning = await usernet.choose_mode(
            self.settings, spec, probe, self.drop_to, self.sandbox_dir(spec.sandbox_id)
        )
        result = Provisioned(
            workspace=workspace,
            isolation="bubblewrap" if probe.usable else "rlimits-only",
            state={"uid": self.drop_to[0] if self.drop_to else os.getuid(), "network": network},
            limits={
                "max_file_mb": ExecLimits(0, 0).file_mb,
                "max_open_files": ExecLimits(0, 0).open_files,
                "max_processes": ExecLimits(0, 0).processes,
            },
            python=f"{workspace}/.venv/bin/python (a venv that sees the host's packages; "
            "pip installs into it when network=True)",
        )
        if network_warning:
            log.warning("sandbox %s: %s", spec.sandbox_id, network_warning)
            result.warnings.append(network_warning)
        if not probe.usable:
            warning = (
                f"{probe.reason}; commands run with rlimits and a timeout only (no filesystem, "
                f"network or PID isolation). Install bubblewrap for real isolation."
            )
            log.warning("sandbox %s: %s", spec.sandbox_id, warning)
            result.warnings.append(warning)
            python = bwrap.host_python().executable
            if self.drop_to is not None and not _reachable_by_others(python):
                # Without a mount namespace nothing can bind it where uid 65534 may look.
                result.warnings.append(
                    f"Commands run as uid {SANDBOX_UID}, which cannot reach the server's Python "
                    f"({python}); only system tools are usable until bubblewrap is installed."
                )
        return result

    def _make_workspace(self, sandbox_id: str, files: dict[PurePosixPath, bytes]) -> str:
        root = self.sandbox_dir(sandbox_id)
        root.parent.mkdir(parents=True, exist_ok=True)
        root.mkdir(mode=0o711)
        workspace_dir = root / "workspace"
        workspace_dir.mkdir(mode=bwrap.WORKSPACE_MODE)
        os.chmod(workspace_dir, bwrap.WORKSPACE_MODE)  # mkdir's mode is filtered by the umask
        workspace = os.path.realpath(workspace_dir)
        self._make_venv(Path(workspace) / ".venv")
        (workspace_dir / ".tmp").mkdir()  # TMPDIR when no private /tmp can be mounted
        if self.drop_to is not None:
            for path in [workspace_dir, *workspace_dir.rglob("*")]:
                os.chown(path, *self.drop_to, follow_symlinks=False)
        fs = WorkspaceFS(Path(workspace), owner=self.drop_to)
        for path, data in files.items():
            fs.write(path, data)
        return workspace

    @staticmethod
    def _make_venv(target: Path) -> None:
        # In-process and without pip: ~50 ms instead of seconds; `python -m pip` from the
        # system site-packages installs into this venv.
        venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(target)
        for name in ("pip", "pip3"):
            wrapper = target / "bin" / name
            wrapper.write_text(PIP_WRAPPER)
            wrapper.chmod(0o755)
        extra = bwrap.host_python().extra_site_dirs
        if extra:  # the server's own venv / user site: visible in the sandbox too
            version = f"python{sys.version_info.major}.{sys.version_info.minor}"
            pth = target / "lib" / version / "site-packages" / "_mlintern_host.pth"
            pth.write_text("\n".join(extra) + "\n")

    async def destroy(self, sandbox: SandboxRef) -> None:
        for proc in list(self._running.get(sandbox.sandbox_id, ())):
            _kill_group(proc)
        await asyncio.to_thread(_remove_tree, self.sandbox_dir(sandbox.sandbox_id))

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
        argv = self._command(sandbox, request)
        network = (
            usernet.for_exec(self.settings, sandbox, self.sandbox_dir(sandbox.sandbox_id))
            if probe.usable
            else None
        )
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
        argv = [*prefix, *argv]
        options: dict = {}
        if not probe.usable and self.drop_to is not None:
            options = {"user": self.drop_to[0], "group": self.drop_to[1], "extra_groups": []}
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE
                if request.stdin is not None
                else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._env(sandbox, request, token, isolated=probe.usable),
                cwd=sandbox.workspace,
                start_new_session=True,
                preexec_fn=limit_in_child,
                pass_fds=network.pass_fds() if network else (),
                **options,
            )
        except FileNotFoundError:
            if network:
                await network.stop()
            if await asyncio.to_thread(os.path.isdir, sandbox.workspace):
                raise
            raise UserError(
                f"The workspace of {sandbox.sandbox_id} is gone from disk ({sandbox.workspace}). "
                f"Destroy it with sandbox_destroy and create a new one with sandbox_create."
            ) from None
        if network:
            await usernet.attach(network, proc, _kill_group)
        running = self._running.setdefault(sandbox.sandbox_id, set())
        running.add(proc)
        assert proc.stdout is not None and proc.stderr is not None
        tasks = [
            asyncio.create_task(_pump(proc.stdout, stdout)),
            asyncio.create_task(_pump(proc.stderr, stderr)),
        ]
        if request.stdin is not None and proc.stdin is not None:
            tasks.append(asyncio.create_task(_feed(proc.stdin, request.stdin)))
        timed_out = False
        notes: list[str] = []
        try:
            try:
                await asyncio.wait_for(proc.wait(), request.timeout_s)
            except TimeoutError:
                timed_out = True
                _kill_group(proc)
                await proc.wait()
        finally:
            # Runs on cancellation too: nothing of the command may keep running.
            if proc.returncode is None:
                _kill_group(proc)
            if not probe.usable:
                leftovers = await asyncio.to_thread(kill_marked, token)
                if leftovers:
                    notes.append(f"killed {leftovers} background process(es) it left behind")
            await _drain(tasks)
            running.discard(proc)
            if network:
                await network.stop()
        exit_code, sig = decode_exit_status(proc.returncode)
        return ExecOutcome(
            exit_code=exit_code,
            signal=sig,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
            isolation="bubblewrap" if probe.usable else "rlimits-only",
            notes=notes,
        )

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
        await asyncio.to_thread(self._fs(sandbox).write, path, data)

    async def deliver_file(self, sandbox: SandboxRef, source: Path, path: PurePosixPath) -> None:
        await asyncio.to_thread(self._fs(sandbox).deliver, source, path)


async def _pump(reader: asyncio.StreamReader, capture: OutputCapture) -> None:
    while chunk := await reader.read(CHUNK):
        capture.feed(chunk)


async def _feed(writer: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        writer.close()


async def _drain(tasks: list[asyncio.Task]) -> None:
    """Let the pipes empty; give up on any still held open by a process we could not reach."""
    done, pending = await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in pending:
        task.cancel()
    for task in done:
        with contextlib.suppress(Exception):
            task.result()


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    # The leader is not reaped yet, so its pid still names this group and no other.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _reachable_by_others(path: str) -> bool:
    """Whether a uid with no relation to the file's owner can run ``path``."""
    current = Path(path)
    if not os.stat(current).st_mode & stat.S_IXOTH:
        return False
    return all(os.stat(parent).st_mode & stat.S_IXOTH for parent in current.parents)


def _remove_tree(path: Path) -> None:
    def unlock_and_retry(function, target, _exc) -> None:  # type: ignore[no-untyped-def]
        # The sandbox may leave read-only directories behind; make them writable and retry.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            function(target)

    if path.exists():
        shutil.rmtree(path, onerror=unlock_and_retry)


def create(settings: Settings) -> LocalBackend:
    return LocalBackend(settings)
