"""Private files under MLINTERN_HOME: directories 0700, files 0600, whatever the umask.

State, job logs, sessions and caches may hold what a user would not share with other accounts
on the machine, so everything the server creates there is private to its owner. Modes are set
explicitly after creation (``mkdir``'s mode is masked by the umask; an existing path keeps its
old mode otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 directories; tighten it if it exists."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for created in [*missing, path]:
        os.chmod(created, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as a 0600 file (its directory private too), or tighten it."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path
