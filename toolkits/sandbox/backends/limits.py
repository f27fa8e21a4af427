"""Resource limits of a local exec, and making sure none of its processes outlive it.

rlimits are set before anything of the command runs (bubblewrap included), so they hold for
every process of it. util-linux's ``prlimit`` sets them and execs the command: that keeps
Python code out of the forked child, so the server can spawn with vfork instead of copying
its whole address space on every exec. Without ``prlimit``, the forked child sets them.

Under bubblewrap the PID namespace is what guarantees cleanup (its init dies, the kernel
kills the rest). Without it, every exec carries a random
marker in its environment and the server kills whatever still carries that marker afterwards,
which also catches processes that left the process group with setsid.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from server.errors import UserError

MARKER_VAR = "MLINTERN_EXEC"
FILE_MB = 2048
OPEN_FILES = 4096
# Threads count as processes for RLIMIT_NPROC, and torch starts one per core, so this is
# generous for real work while still stopping a fork bomb within a second.
PROCESSES = 512
QUIET_SCANS = 3  # empty /proc scans in a row before leftovers count as gone


@dataclass(frozen=True)
class ExecLimits:
    memory_mb: int
    cpu_s: int
    file_mb: int = FILE_MB
    open_files: int = OPEN_FILES
    processes: int = PROCESSES


def _settings(limits: ExecLimits, extra_processes: int) -> list[tuple[str, int, int, int]]:
    """(prlimit option, resource, soft, hard) for every limit of an exec.

    Never above the server's own hard limits: the child inherits those, and asking for more
    would make the exec fail instead of merely running with the lower limit.
    """
    memory = limits.memory_mb * 1024 * 1024
    files = limits.file_mb * 1024 * 1024
    processes = limits.processes + extra_processes
    wanted = [
        ("as", resource.RLIMIT_AS, memory, memory),
        # The soft limit delivers SIGXCPU (reported as "cpu"); the hard one a second later is
        # SIGKILL for a process that ignores it.
        ("cpu", resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1),
        ("fsize", resource.RLIMIT_FSIZE, files, files),
        ("nofile", resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        ("nproc", resource.RLIMIT_NPROC, processes, processes),
        ("core", resource.RLIMIT_CORE, 0, 0),
    ]
    settings = []
    for name, kind, soft, hard in wanted:
        ceiling = resource.getrlimit(kind)[1]
        if ceiling != resource.RLIM_INFINITY:
            soft, hard = min(soft, ceiling), min(hard, ceiling)
        settings.append((name, kind, soft, hard))
    return settings


@functools.cache
def _prlimit() -> str | None:
    return shutil.which("prlimit")


def launcher(
    limits: ExecLimits, extra_processes: int = 0
) -> tuple[list[str], Callable[[], None] | None]:
    """(argv prefix, preexec_fn) that put ``limits`` on a command: prlimit when installed."""
    prlimit = _prlimit()
    if prlimit is None:
        return [], preexec(limits, extra_processes)
    options = [
        f"--{name}={soft}:{hard}" for name, _, soft, hard in _settings(limits, extra_processes)
    ]
    return [prlimit, *options, "--"], None


def preexec(limits: ExecLimits, extra_processes: int = 0) -> Callable[[], None]:
    """The function the forked child runs before exec: only setrlimit calls, nothing to lock."""
    settings = [(kind, soft, hard) for _, kind, soft, hard in _settings(limits, extra_processes)]

    def apply() -> None:
        for kind, soft, hard in settings:
            resource.setrlimit(kind, (soft, hard))

    return apply


def tasks_of_uid(uid: int) -> int:
    """How many tasks (threads included) ``uid`` runs now; RLIMIT_NPROC counts them all."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.stat(entry.path).st_uid == uid:
                count += len(os.listdir(f"{entry.path}/task"))
    return count


def kill_marked(token: str, max_rounds: int = 100) -> int:
    """SIGKILL every process whose environment carries ``MARKER_VAR=token``; return how many.

    Scanned again until several scans in a row find nothing: a fork bomb keeps making new
    processes between scans, and a process in the middle of execve briefly shows an empty
    environment.
    """
    needle = f"{MARKER_VAR}={token}".encode()
    killed: set[int] = set()
    quiet = 0
    for _ in range(max_rounds):
        found = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"{entry.path}/environ", "rb") as handle:
                    environ = handle.read()
            except OSError:
                continue
            if needle in environ.split(b"\0"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry.name), signal.SIGKILL)
                    killed.add(int(entry.name))
                    found += 1
        quiet = 0 if found else quiet + 1
        if quiet >= QUIET_SCANS:
            break
        time.sleep(0.01)
    return len(killed)


def check_memory(memory_mb: int) -> None:
    physical_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20
    if memory_mb > physical_mb:
        raise UserError(
            f"memory_mb={memory_mb} is more than this machine's memory ({physical_mb} MiB); "
            f"ask for at most {physical_mb}, or use a bigger machine (backend='e2b', or a job)."
        )
