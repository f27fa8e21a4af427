"""Making and removing a local sandbox's directory: the workspace, its quota, its venv.

``<MLINTERN_HOME>/sandboxes/<sandbox_id>/`` holds ``workspace/`` (the sandbox's only writable
place, mounted from ``workspace.img`` where a hard quota is possible, see disk_quota.py) and
the server's own files about it (resolv.conf, spilled output), which the sandbox never sees.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import venv
from pathlib import Path, PurePosixPath

from toolkits.sandbox.backends import bwrap, disk_quota
from toolkits.sandbox.backends.local_files import WorkspaceFS

PIP_WRAPPER = """#!/bin/sh
# pip of this sandbox's virtualenv: system packages stay visible, new ones land here.
exec "$(dirname "$0")/python" -m pip "$@"
"""


def make(
    root: Path,
    files: dict[PurePosixPath, bytes],
    owner: tuple[int, int] | None,
    quota: tuple[int, int] | None,
) -> str:
    """Create ``root/workspace`` (of ``quota`` = (MiB, files) when given) with ``files`` in it."""
    root.parent.mkdir(parents=True, exist_ok=True)
    root.mkdir(mode=0o711)
    workspace_dir = root / "workspace"
    if quota is not None:
        disk_quota.make(workspace_dir, *quota)
    else:
        workspace_dir.mkdir()
    os.chmod(workspace_dir, bwrap.WORKSPACE_MODE)  # mkdir's mode is filtered by the umask
    workspace = os.path.realpath(workspace_dir)
    make_venv(Path(workspace) / ".venv")
    (workspace_dir / ".tmp").mkdir()  # TMPDIR when no private /tmp can be mounted
    if owner is not None:
        for path in [workspace_dir, *workspace_dir.rglob("*")]:
            os.chown(path, *owner, follow_symlinks=False)
    fs = WorkspaceFS(Path(workspace), owner=owner)
    for path, data in files.items():
        fs.write(path, data)
    return workspace


def make_venv(target: Path) -> None:
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


def remove(root: Path) -> None:
    """Unmount the workspace (if it has its own filesystem) and delete the whole directory."""

    def unlock_and_retry(function, target, _exc) -> None:  # type: ignore[no-untyped-def]
        # The sandbox may leave read-only directories behind; make them writable and retry.
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            function(target)

    disk_quota.unmount(root / "workspace")
    if root.exists():
        shutil.rmtree(root, onerror=unlock_and_retry)


def reachable_by_others(path: str) -> bool:
    """Whether a uid with no relation to the file's owner can run ``path``."""
    current = Path(path)
    if not os.stat(current).st_mode & stat.S_IXOTH:
        return False
    return all(os.stat(parent).st_mode & stat.S_IXOTH for parent in current.parents)
