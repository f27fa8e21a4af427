"""Path arguments of the sandbox tools: every one must name something inside the workspace.

``workspace_relative`` is the lexical check shared by all backends (no ``..``, no absolute path
outside the workspace, no NUL). Symlinks are a filesystem matter: the local backend resolves
them in ``backends/local_files.py``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from server.errors import UserError

MAX_PATH_CHARS = 1024
WORKSPACE_ROOT = PurePosixPath(".")


def workspace_relative(path: str, workspace: str | None) -> PurePosixPath:
    """``path`` as a normalised path relative to the workspace root, or a UserError.

    An absolute path is accepted only when it lies inside ``workspace`` (the path commands
    see); with ``workspace=None`` (before the sandbox exists) only relative paths are.
    """
    raw = path.strip()
    if "\x00" in raw:
        raise UserError("Sandbox paths cannot contain NUL characters.")
    if len(raw) > MAX_PATH_CHARS:
        raise UserError(f"Sandbox paths are limited to {MAX_PATH_CHARS} characters.")
    if raw in ("", ".", "~", "./"):
        return WORKSPACE_ROOT
    if raw.startswith("~/"):  # HOME is the workspace inside the sandbox
        raw = raw[2:]
    candidate = PurePosixPath(raw)
    if candidate.is_absolute():
        root = PurePosixPath(workspace) if workspace else None
        if candidate == root:
            return WORKSPACE_ROOT
        if root is None or root not in candidate.parents:
            where = f" ({workspace})" if workspace else ""
            raise UserError(
                f"{path!r} is outside the sandbox workspace{where}. Give a path relative "
                f"to the workspace, e.g. 'train.py' or 'data/train.csv'."
            )
        candidate = candidate.relative_to(root)
    if ".." in candidate.parts:
        raise UserError(
            f"{path!r} contains '..': sandbox paths must stay inside the workspace. Give the "
            f"path from the workspace root instead, e.g. 'src/model.py'."
        )
    return candidate if candidate.parts else WORKSPACE_ROOT


def display(path: PurePosixPath) -> str:
    return "." if path == WORKSPACE_ROOT else path.as_posix()
