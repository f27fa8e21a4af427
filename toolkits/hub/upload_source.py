"""What hub_write(op='upload') may send: inline text, a local file or folder, or a sandbox file.

Two guards live here because an upload is the one way data leaves this machine through the hub
toolkit: a sandbox path must stay inside its workspace, and nothing that holds a credential
(a known secret value, or a well-known credential store) is uploaded.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from server.errors import NotFoundError, UserError
from server.redact import secret_values
from server.roots import current as current_roots
from server.settings import Settings

MAX_FILES = 1000
SKIPPED_DIRS = frozenset({".git", "__pycache__", ".ipynb_checkpoints", ".venv", "node_modules"})
# Larger files are weights or data; a token pasted into one of those is not a realistic leak,
# and reading gigabytes to look for it would stall the upload.
SECRET_SCAN_MAX_BYTES = 50 * 1024 * 1024
SANDBOX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Credential stores under the home directory, refused whatever the token scan says.
PRIVATE_HOME_DIRS = (".ssh", ".aws", ".gnupg", ".config/gh", ".cache/huggingface", ".docker")


@dataclass(frozen=True)
class UploadFile:
    path_in_repo: str
    local: Path | None = None
    content: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.content) if self.content is not None else self.local.stat().st_size  # type: ignore[union-attr]


def clean_repo_path(path_in_repo: str) -> str:
    path = path_in_repo.strip().replace("\\", "/").strip("/")
    parts = path.split("/") if path else []
    if any(part in ("", ".", "..") for part in parts) or (parts and parts[0] == ".git"):
        raise UserError(
            f"path_in_repo {path_in_repo!r} is not a clean relative path (no '..', '.', empty "
            f"segments or .git/). Example: 'checkpoints/model.safetensors'."
        )
    return path


def sandbox_workspace(settings: Settings, sandbox_id: str) -> Path:
    if not SANDBOX_ID.match(sandbox_id):
        raise UserError(f"{sandbox_id!r} is not a sandbox id (ids look like 'sbx-…').")
    workspace = settings.home / "sandboxes" / sandbox_id / "workspace"
    if not workspace.is_dir():
        raise NotFoundError(
            f"No sandbox {sandbox_id!r} (no workspace at {workspace}). List sandboxes with "
            f"sandbox_list."
        )
    return workspace.resolve()


def resolve_sandbox_path(settings: Settings, sandbox_id: str, sandbox_path: str) -> Path:
    workspace = sandbox_workspace(settings, sandbox_id)
    relative = sandbox_path.lstrip("/")
    # Paths a sandbox shows start at its workspace; accept both "out/x" and "/workspace/out/x".
    if relative == "workspace" or relative.startswith("workspace/"):
        relative = relative[len("workspace") :].lstrip("/")
    target = (workspace / relative).resolve()  # follows symlinks: a link out is caught below
    if target != workspace and workspace not in target.parents:
        raise UserError(
            f"{sandbox_path!r} leaves the workspace of sandbox {sandbox_id}; only files inside "
            f"it can be uploaded."
        )
    if not target.exists():
        raise NotFoundError(
            f"No file {sandbox_path!r} in sandbox {sandbox_id}. Look with "
            f"sandbox_list or sandbox_exec(command='ls')."
        )
    return target


def resolve_local_path(settings: Settings, local_path: str) -> Path:
    """The upload source, inside an allowed root (server/roots.py: never mlintern's state
    directory, never a credential file)."""
    target = current_roots().check(local_path, what="upload source")
    if not target.exists():
        raise NotFoundError(f"No such file or folder: {local_path}.")
    user_home = Path.home().resolve()
    for private in PRIVATE_HOME_DIRS:
        guarded = user_home / private
        if target == guarded or guarded in target.parents or target in guarded.parents:
            raise UserError(f"{local_path} is or holds a credential store; refusing to upload it.")
    return target


def collect_files(source: Path, path_in_repo: str) -> list[UploadFile]:
    """One file, or every file under a folder (placed under ``path_in_repo``)."""
    if source.is_file():
        if not path_in_repo:
            path_in_repo = source.name
        return [UploadFile(path_in_repo=path_in_repo, local=source)]
    files: list[UploadFile] = []
    for root, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(names):
            local = Path(root) / name
            if local.is_symlink() and source not in local.resolve().parents:
                continue  # a link pointing out of the folder is not part of it
            if not current_roots().readable(local):
                continue  # credential files, FIFOs and other special files are never sent
            relative = local.relative_to(source).as_posix()
            files.append(
                UploadFile(
                    path_in_repo="/".join(p for p in (path_in_repo, relative) if p), local=local
                )
            )
            if len(files) > MAX_FILES:
                raise UserError(
                    f"{source} holds more than {MAX_FILES} files; upload a smaller folder or "
                    f"several folders one after another."
                )
    if not files:
        raise UserError(f"{source} holds no files to upload.")
    return files


def refuse_secrets(files: list[UploadFile], extra_secrets: list[str]) -> None:
    """Refuse the upload when a file contains a credential this server knows about."""
    secrets = {value: name for value, name in secret_values().items()}
    for value in extra_secrets:
        if value:
            secrets.setdefault(value, "HF_TOKEN")
    needles = [(value.encode(), name) for value, name in secrets.items()]
    if not needles:
        return
    for item in files:
        if item.size > SECRET_SCAN_MAX_BYTES:
            continue
        data = item.content if item.content is not None else item.local.read_bytes()  # type: ignore[union-attr]
        for needle, name in needles:
            if needle in data:
                raise UserError(
                    f"{item.path_in_repo} contains the value of {name}; refusing to upload a "
                    f"credential. Remove it from the file first."
                )
