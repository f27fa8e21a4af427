"""A hard disk quota per local workspace: an ext4 image of that size, loop-mounted on it.

A quota checked after the fact lets one ``dd`` fill the host's disk first; RLIMIT_FSIZE caps
one file, not a thousand. A filesystem of the quota's size cannot be overfilled by anyone:
writes from the sandbox, from sandbox_files and from jobs run in the workspace all get
ENOSPC at the limit, and its inode count caps the number of files the same way. The image is
sparse (it takes on the host only what the workspace holds) and lives beside the workspace,
so it survives a server restart; a workspace found unmounted (after a reboot) is mounted
again on first use. Mounting needs root, mkfs.ext4 and loop devices: elsewhere ``reason``
says why there is no quota, and the sandbox says so when it is created.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

IMAGE_NAME = "workspace.img"
TIMEOUT_S = 60
MOUNT_OPTIONS = "loop,nosuid,nodev,noatime"


class QuotaError(RuntimeError):
    pass


def _run(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise QuotaError(f"{os.path.basename(argv[0])} failed: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise QuotaError(f"{os.path.basename(argv[0])} failed: {detail}")


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if found is None:
        raise QuotaError(f"{name} is not installed")
    return found


def image_of(workspace: Path) -> Path:
    return workspace.parent / IMAGE_NAME


def make(workspace: Path, size_mb: int, max_files: int) -> None:
    """Create ``workspace`` as the mount point of a fresh ``size_mb`` filesystem."""
    image = image_of(workspace)
    with open(image, "xb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.truncate(size_mb << 20)
    # No reserved blocks (nobody is root in there); -N caps the number of files.
    _run(
        [
            _tool("mkfs.ext4"),
            "-q",
            "-F",
            "-m",
            "0",
            "-N",
            str(max_files),
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1",
            str(image),
        ]
    )
    workspace.mkdir(mode=0o700, exist_ok=True)
    mount(workspace)
    with contextlib.suppress(OSError):
        (workspace / "lost+found").rmdir()


def mount(workspace: Path) -> None:
    _run([_tool("mount"), "-o", MOUNT_OPTIONS, str(image_of(workspace)), str(workspace)])


def ensure_mounted(workspace: Path) -> None:
    """Mount the workspace's image again where it is no longer mounted (after a reboot)."""
    # A missing mount point is a workspace deleted from disk: exec reports that itself.
    if image_of(workspace).exists() and workspace.is_dir() and not os.path.ismount(workspace):
        mount(workspace)


def unmount(workspace: Path) -> None:
    """Unmount (lazily when still busy), so the tree and the image can be deleted."""
    if not os.path.ismount(workspace):
        return
    umount = _tool("umount")
    try:
        _run([umount, str(workspace)])
    except QuotaError:
        _run([umount, "-l", str(workspace)])


@functools.cache
def unavailable_reason() -> str:
    """Why workspaces cannot get a hard quota here, or "" when they can (tried once)."""
    if os.geteuid() != 0:
        return "mounting a size-capped workspace image needs a server running as root"
    try:
        with tempfile.TemporaryDirectory(prefix="mlintern-quota-probe-") as scratch:
            workspace = Path(scratch) / "workspace"
            make(workspace, 16, 256)
            try:
                if not os.path.ismount(workspace):
                    return "the workspace image did not mount"
            finally:
                unmount(workspace)
    except (OSError, QuotaError) as exc:
        return str(exc)
    return ""
