"""The hub toolkit's plain API: search, read a repository, write to one (no MCP here).

The reading and writing functions live in ``browse`` and ``write``; this module adds the two
entry points the MCP layer publishes, each choosing one of them by an operation name, and says
clearly which argument an operation is missing.
"""

from __future__ import annotations

from typing import Literal

from server.errors import UserError
from server.settings import Settings
from toolkits.hub.browse import list_files, read_file, repo_info, search
from toolkits.hub.models import (
    CommitResult,
    FileContent,
    FileListing,
    Kind,
    RepoCreated,
    RepoInfo,
)
from toolkits.hub.write import create_repo, delete, upload

__all__ = [
    "ReadOp",
    "WriteOp",
    "create_repo",
    "delete",
    "list_files",
    "read_file",
    "read_repo",
    "repo_info",
    "search",
    "upload",
    "write_repo",
]

ReadOp = Literal["info", "list", "read"]
WriteOp = Literal["create", "upload", "delete"]


def read_repo(
    settings: Settings,
    repo_id: str,
    op: ReadOp = "info",
    *,
    kind: Kind = "model",
    path: str = "",
    revision: str | None = None,
    recursive: bool = False,
    offset: int = 0,
    limit: int = 100,
    max_chars: int = 10_000,
) -> RepoInfo | FileListing | FileContent:
    """One read of a repository: its details ('info'), a folder listing ('list') or a text file
    ('read', from character ``offset``). Raises UserError when 'read' has no path, and what
    ``browse`` raises (NotFoundError with suggestions for a wrong id or path)."""
    if op == "info":
        return repo_info(settings, repo_id=repo_id, kind=kind, revision=revision)
    if op == "list":
        return list_files(
            settings,
            repo_id=repo_id,
            kind=kind,
            path=path,
            revision=revision,
            recursive=recursive,
            offset=offset,
            limit=limit,
        )
    if not path:
        raise UserError(
            f"op='read' needs the file's path. List the files with "
            f"hub_repo(repo_id={repo_id!r}, op='list')."
        )
    return read_file(
        settings,
        repo_id=repo_id,
        path=path,
        kind=kind,
        revision=revision,
        offset=offset,
        max_chars=max_chars,
    )


def write_repo(
    settings: Settings,
    repo_id: str,
    op: WriteOp,
    *,
    kind: Kind = "model",
    path: str | None = None,
    paths: list[str] | None = None,
    content: str | None = None,
    local_path: str | None = None,
    sandbox_id: str | None = None,
    sandbox_path: str | None = None,
    private: bool = True,
    exist_ok: bool = False,
    space_sdk: str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
) -> RepoCreated | CommitResult:
    """One write: create the repository, upload a file or folder to ``path``, or delete
    ``paths`` in one commit. Raises UserError for an argument the operation needs and lacks,
    MissingCredentialError without HF_TOKEN, and what ``write`` raises."""
    if op == "create":
        return create_repo(
            settings,
            repo_id=repo_id,
            kind=kind,
            private=private,
            exist_ok=exist_ok,
            space_sdk=space_sdk,
        )
    if op == "upload":
        if path is None:
            raise UserError("op='upload' needs path: the destination file or folder in the repo.")
        return upload(
            settings,
            repo_id=repo_id,
            path_in_repo=path,
            content=content,
            local_path=local_path,
            sandbox_id=sandbox_id,
            sandbox_path=sandbox_path,
            kind=kind,
            revision=revision,
            create_pr=create_pr,
            commit_message=commit_message,
        )
    if not paths:
        raise UserError("op='delete' needs paths: the files or folders to delete.")
    return delete(
        settings,
        repo_id=repo_id,
        paths=paths,
        kind=kind,
        revision=revision,
        create_pr=create_pr,
        commit_message=commit_message,
    )
