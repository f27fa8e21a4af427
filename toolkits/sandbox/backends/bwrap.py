"""Bubblewrap: the namespaces around every local exec, and the probe that says if they work.

The sandbox sees a read-only /usr (plus the merged-/usr links), a short list of /etc files
programs need (dynamic loader cache, users, DNS and TLS roots), the server's Python
installation read-only (so torch and friends import), a fresh /proc, /dev, /tmp and /dev/shm,
and its own workspace as the only writable place. It gets its own PID, IPC, UTS (and, unless
``network=True``, network) namespaces and dies with the server.

When the server runs as root, bubblewrap itself runs privileged (no user namespace, so the
Python installation under /root can be bound even though the target uid could not reach it)
and ``setpriv`` drops to the unprivileged sandbox uid as the last step, with every
capability gone and no_new_privs set: the process limit then applies, which root ignores.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# Merged-/usr systems link these to /usr/...; older layouts have real directories.
TOP_LEVEL_SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC_ENTRIES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "passwd",
    "group",
    "nsswitch.conf",
    "host.conf",
    "hosts",
    "resolv.conf",
    "gai.conf",
    "ssl",
    "ca-certificates",
    "pki",
    "crypto-policies",
    "localtime",
    "timezone",
    "mime.types",
    "os-release",
    "debian_version",
    "lsb-release",
    "protocols",
    "services",
)
PROBE_TIMEOUT_S = 15
PROBE_TMPFS_BYTES = 16 * 1024 * 1024
NetworkMode = Literal["none", "user", "host"]
# bubblewrap enters the workspace before setpriv drops to its owner, with every capability but
# the uid-changing ones already gone, so "other" needs the search bit (not the read bit).
WORKSPACE_MODE = 0o711


@dataclass(frozen=True)
class HostPython:
    executable: str  # the real interpreter binary (never a pyenv shim)
    bin_dir: str
    roots: tuple[str, ...]  # directories bound read-only so the interpreter and packages load
    extra_site_dirs: tuple[str, ...]  # site-packages beyond the base install (server venv, user)


@functools.cache
def host_python() -> HostPython:
    executable = os.path.realpath(sys.executable)
    base = os.path.realpath(sys.base_prefix)
    roots = [base]
    extra: list[str] = []
    prefix = os.path.realpath(sys.prefix)
    if prefix != base:  # the server runs from a virtualenv: its packages count too
        roots.append(prefix)
        extra += [p for p in site.getsitepackages() if os.path.realpath(p).startswith(prefix)]
    user_site = site.getusersitepackages()
    if site.ENABLE_USER_SITE and os.path.isdir(user_site):
        roots.append(os.path.realpath(user_site))
        extra.append(os.path.realpath(user_site))
    if not any(_is_under(executable, root) for root in roots):
        roots.append(os.path.dirname(executable))
    bound = [root for root in roots if not _is_under(root, "/usr")]
    return HostPython(
        executable=executable,
        bin_dir=os.path.dirname(executable),
        roots=tuple(dict.fromkeys(bound)),
        extra_site_dirs=tuple(dict.fromkeys(extra)),
    )


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def mount_point(path: str) -> list[str]:
    """Create each missing ancestor of ``path`` world-traversable (bubblewrap's default is not)."""
    args: list[str] = []
    parts = Path(path).parts[1:-1]
    for depth in range(1, len(parts) + 1):
        args += ["--perms", "0755", "--dir", "/" + "/".join(parts[:depth])]
    return args


def bwrap_argv(
    bwrap: str,
    *,
    workspace: str,
    python: HostPython,
    network: NetworkMode,
    tmpfs_bytes: int,
    drop_to: tuple[int, int] | None,
    setpriv: str | None,
    extra: Sequence[str] = (),
    readonly: Sequence[str] = (),
) -> list[str]:
    """The bubblewrap prefix of an exec; the command to run follows it.

    ``network``: "none" (an empty namespace), "user" (its own namespace that slirp4netns
    connects to the internet, see usernet.py), or "host" (the host's network, loopback too).
    For "user", ``unshare`` makes the namespace and bubblewrap only inherits it: bubblewrap's
    own loopback set-up would race slirp4netns configuring the same namespace.
    ``readonly`` paths are bound before the workspace, so one that holds the workspace does not
    hide it (local jobs: a script's folder above their working directory); ``extra`` comes last.
    """
    args = [bwrap, "--ro-bind", "/usr", "/usr"]
    if network == "user":
        args = [shutil.which("unshare") or "unshare", "--net", "--", *args]
    for name in TOP_LEVEL_SYSTEM_DIRS:
        host = "/" + name
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    args += ["--perms", "0755", "--dir", "/etc"]
    etc = [f"/etc/{entry}" for entry in ETC_ENTRIES]
    etc += sorted(str(p) for p in Path("/etc").glob("python3*"))
    for entry in etc:
        if os.path.lexists(entry):
            args += ["--ro-bind-try", entry, entry]
    args += ["--proc", "/proc", "--dev", "/dev"]
    # tmpfs lives in memory outside RLIMIT_AS, so it gets its own size cap.
    for tmp in ("/tmp", "/dev/shm"):
        args += ["--perms", "1777", "--size", str(tmpfs_bytes), "--tmpfs", tmp]
    for root in [*python.roots, *readonly]:
        args += [*mount_point(root), "--ro-bind", root, root]
    args += [*mount_point(workspace), "--bind", workspace, workspace, "--chdir", workspace]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    args += ["--hostname", "sandbox", "--die-with-parent", "--new-session"]
    if network == "none":
        args.append("--unshare-net")
    args += extra
    if drop_to is None:
        args.append("--unshare-user")
        args.append("--")
        return args
    assert setpriv is not None
    caps = ["CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"]  # just enough for setpriv to drop
    args += ["--cap-drop", "ALL"] + [flag for cap in caps for flag in ("--cap-add", cap)]
    uid, gid = drop_to
    args += ["--", setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    args += ["--bounding-set=-all", "--inh-caps=-all", "--"]
    return args


@dataclass(frozen=True)
class Probe:
    usable: bool
    reason: str  # why not, when not usable
    bwrap: str | None
    setpriv: str | None


@contextlib.contextmanager
def probe_workspace(drop_to: tuple[int, int] | None) -> Iterator[str]:
    """A throw-away workspace a probe's sandbox can enter, as its uid."""
    with tempfile.TemporaryDirectory(prefix="mlintern-probe-") as workspace:
        if drop_to is not None:
            os.chown(workspace, *drop_to)
            os.chmod(workspace, WORKSPACE_MODE)
        yield workspace


@functools.cache
def probe(bwrap: str, drop_to: tuple[int, int] | None) -> Probe:
    """Run the real interpreter once under the exact arguments an exec uses."""
    found = shutil.which(bwrap)
    if found is None:
        return Probe(False, f"bubblewrap ({bwrap!r}) is not installed", None, None)
    setpriv = shutil.which("setpriv")
    if drop_to is not None and setpriv is None:
        return Probe(
            False, "setpriv (util-linux) is missing, so root cannot drop privileges", None, None
        )
    with probe_workspace(drop_to) as workspace:
        argv = bwrap_argv(
            found,
            workspace=workspace,
            python=host_python(),
            network="none",
            tmpfs_bytes=PROBE_TMPFS_BYTES,
            drop_to=drop_to,
            setpriv=setpriv,
        )
        try:
            proc = subprocess.run(
                [*argv, host_python().executable, "-c", "import os; print(os.getpid())"],
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Probe(False, f"bubblewrap did not run: {exc}", None, None)
    # PID 1 is bubblewrap's reaper, so the command being PID 2 proves the PID namespace.
    if proc.returncode != 0 or proc.stdout.strip() != "2":
        detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return Probe(False, f"bubblewrap is installed but blocked here: {detail}", None, None)
    return Probe(True, "", found, setpriv)
