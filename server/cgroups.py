"""Memory and process limits for a whole group of processes (a sandbox, a job), by cgroup.

rlimits are per process: under RLIMIT_AS=256 MiB four processes still hold 1 GiB together,
and RLIMIT_NPROC counts every process of a uid on the machine. A cgroup bounds the group as
a whole. Where the machine lets this server make child cgroups with the memory and pids
controllers (cgroup v2; or, on hybrid layouts, the v1 memory and pids hierarchies), each
group gets ``<our cgroup>/mlintern/<name>`` with its limits, and every command of it enters
that cgroup before it execs: ``wrap`` prefixes a tiny shell that writes its own pid to
``cgroup.procs`` and then execs the command, so it composes with bubblewrap, prlimit or
anything else. Where not, ``Cgroups.reason`` says why, and callers tell the user that limits
are per process only.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PARENT = "mlintern"
# Writes its pid into every cgroup.procs named before "--", then becomes the command.
ENTER = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
ENTER_FAILED = 125
REMOVE_WAIT_S = 2.0


@dataclass(frozen=True)
class Hierarchy:
    """Where this server's groups go in one cgroup hierarchy, and its limit files."""

    base: Path  # <mount>/<our cgroup>/mlintern
    memory_file: str | None
    pids_file: str | None
    oom_events: str | None  # file with the "oom_kill N" counter


@dataclass(frozen=True)
class Cgroups:
    hierarchies: tuple[Hierarchy, ...]
    version: str  # "v2", "v1" or "" when unavailable
    reason: str  # why limits cannot be per group, "" when they can

    @property
    def available(self) -> bool:
        return bool(self.hierarchies)

    def prepare(self, name: str, memory_bytes: int, pids: int) -> list[str]:
        """Make (or refresh) group ``name`` with its limits; the cgroup.procs files to enter."""
        procs = []
        for hierarchy in self.hierarchies:
            group = hierarchy.base / name
            group.mkdir(exist_ok=True)
            if hierarchy.memory_file:
                (group / hierarchy.memory_file).write_text(str(memory_bytes))
                if self.version == "v2":  # swap would let the group hold more than memory.max
                    with contextlib.suppress(OSError):
                        (group / "memory.swap.max").write_text("0")
            if hierarchy.pids_file:
                (group / hierarchy.pids_file).write_text(str(pids))
            procs.append(str(group / "cgroup.procs"))
        return procs

    def wrap(self, procs: list[str], argv: list[str]) -> list[str]:
        if not procs:
            return argv
        shell = shutil.which("sh") or "/bin/sh"
        return [shell, "-c", ENTER, "cgroup-enter", *procs, "--", *argv]

    def oom_kills(self, name: str) -> int:
        """How many processes of group ``name`` the kernel killed for memory so far."""
        for hierarchy in self.hierarchies:
            if hierarchy.oom_events:
                with contextlib.suppress(OSError, ValueError):
                    for line in (
                        (hierarchy.base / name / hierarchy.oom_events).read_text().split("\n")
                    ):
                        if line.startswith("oom_kill "):
                            return int(line.split()[1])
        return 0

    def remove(self, name: str) -> None:
        """Delete group ``name`` (its processes must be gone; leftovers are killed first)."""
        for hierarchy in self.hierarchies:
            group = hierarchy.base / name
            if not group.is_dir():
                continue
            deadline = time.monotonic() + REMOVE_WAIT_S
            while True:  # killed processes take a moment to leave the group
                with contextlib.suppress(OSError, ValueError):
                    for pid in (group / "cgroup.procs").read_text().split():
                        with contextlib.suppress(OSError):
                            os.kill(int(pid), signal.SIGKILL)
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, type, options) of every cgroup mount this process sees."""
    found = []
    with open("/proc/self/mounts") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
                found.append((fields[1], fields[2], set(fields[3].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """Our cgroup path per v1 controller, and under "" the v2 one."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _v2(mount: str, own: str) -> Hierarchy:
    here = Path(mount) / own.lstrip("/")
    offered = set((here / "cgroup.controllers").read_text().split())
    missing = {"memory", "pids"} - offered
    if missing:
        raise OSError(f"cgroup v2 at {here} offers no {', '.join(sorted(missing))} controller")
    enabled = set((here / "cgroup.subtree_control").read_text().split())
    if not {"memory", "pids"} <= enabled:
        (here / "cgroup.subtree_control").write_text("+memory +pids")
    base = here / PARENT
    base.mkdir(exist_ok=True)
    (base / "cgroup.subtree_control").write_text("+memory +pids")
    return Hierarchy(base, "memory.max", "pids.max", "memory.events")


def _v1(mounts: list[tuple[str, str, set[str]]], own: dict[str, str]) -> list[Hierarchy]:
    found = []
    for controller, limit, events in (
        ("memory", "memory.limit_in_bytes", "memory.oom_control"),
        ("pids", "pids.max", None),
    ):
        mount = next(
            (m for m, kind, opts in mounts if kind == "cgroup" and controller in opts), None
        )
        if mount is None or controller not in own:
            raise OSError(f"no cgroup v1 {controller} hierarchy is mounted")
        base = Path(mount) / own[controller].lstrip("/") / PARENT
        base.mkdir(exist_ok=True)
        found.append(
            Hierarchy(
                base,
                limit if controller == "memory" else None,
                limit if controller == "pids" else None,
                events,
            )
        )
    return found


def _tried(hierarchies: list[Hierarchy], version: str) -> Cgroups:
    """The hierarchies, once a throw-away group proved limits can really be set in them."""
    cgroups = Cgroups(tuple(hierarchies), version, "")
    probe = f"probe-{os.getpid()}"
    try:
        cgroups.prepare(probe, 64 << 20, 64)
    finally:
        cgroups.remove(probe)
    return cgroups


@functools.cache
def detect() -> Cgroups:
    """What this machine lets us do, tried once per process."""
    try:
        mounts, own = _mounts(), _own_paths()
    except OSError as exc:
        return Cgroups((), "", f"cgroups cannot be read here ({exc})")
    reasons = []
    v2 = next((m for m, kind, _ in mounts if kind == "cgroup2"), None)
    if v2 is not None and "" in own:
        try:
            return _tried([_v2(v2, own[""])], "v2")
        except OSError as exc:
            reasons.append(f"cgroup v2: {exc.strerror or exc}")
    else:
        reasons.append("no cgroup v2 mount")
    try:
        return _tried(_v1(mounts, own), "v1")
    except OSError as exc:
        reasons.append(f"cgroup v1: {exc.strerror or exc}")
    return Cgroups((), "", "; ".join(reasons))
