"""Resource limits of a local exec, and making sure none of its processes outlive it.

rlimits are set in the forked child before it execs anything (bubblewrap included), so they
hold for every process of the command. Under bubblewrap the PID namespace is what guarantees
cleanup (its init dies, the kernel kills the rest). Without it, every exec carries a random
marker in its environment and the server kills whatever still carries that marker afterwards,
which also catches processes that left the process group with setsid.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

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


def preexec(limits: ExecLimits, extra_processes: int = 0) -> Callable[[], None]:
    """The function the forked child runs before exec: only setrlimit calls, nothing to lock."""
    settings = [
        (resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024),
        # The soft limit delivers SIGXCPU (reported as "cpu"); the hard one a second later is
        # SIGKILL for a process that ignores it.
        (resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1)),
        (resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_NPROC, limits.processes + extra_processes),
        (resource.RLIMIT_CORE, 0),
    ]

    def apply() -> None:
        for kind, value in settings:
            soft, hard = value if isinstance(value, tuple) else (value, value)
            current_hard = resource.getrlimit(kind)[1]
            if current_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, current_hard), min(hard, current_hard)
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
