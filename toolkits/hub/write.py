"""Hub operations that change something: create a repository, upload, delete files.

All of them need HF_TOKEN and say so before any request is made. Writes are retried only on
429 (the Hub refused before acting), never on 5xx where a commit may already exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.errors import NotFoundError, UserError
from server.settings import Settings
from toolkits._hf.calls import call_hub
from toolkits._hf.client import hub_api, hub_token, repo_url, require_token
from toolkits.hub.browse import missing_repo_message
from toolkits.hub.models import CommitResult, Kind, RepoCreated
from toolkits.hub.upload_source import (
    UploadFile,
    clean_repo_path,
    collect_files,
    refuse_secrets,
    resolve_local_path,
    resolve_sandbox_path,
)

SPACE_SDKS = ("gradio", "streamlit", "docker", "static")


def _full_repo_id(settings: Settings, api: object, repo_id: str) -> str:
    """``name`` alone means the token owner's namespace, as on the Hub's website."""
    if "/" in repo_id:
        return repo_id
    who = call_hub(settings, lambda: api.whoami(), what="finding the user of HF_TOKEN")  # type: ignore[attr-defined]
    return f"{who['name']}/{repo_id}"


def create_repo(
    settings: Settings,
    *,
    repo_id: str,
    kind: Kind = "model",
    private: bool = True,
    exist_ok: bool = False,
    space_sdk: str | None = None,
) -> RepoCreated:
    """Create a model, dataset or Space repository (private unless asked otherwise).

    Raises MissingCredentialError without HF_TOKEN, UserError for a Space without space_sdk or
    a repository that exists (unless exist_ok), and on Hub failures.
    """
    from huggingface_hub.errors import HfHubHTTPError

    require_token(settings, "creating a repository")
    if kind == "space" and space_sdk not in SPACE_SDKS:
        raise UserError(f"A Space needs space_sdk, one of: {', '.join(SPACE_SDKS)}.")
    api = hub_api(settings)
    full_id = _full_repo_id(settings, api, repo_id)
    existed = False
    if exist_ok:
        try:
            call_hub(settings, lambda: api.repo_info(full_id, repo_type=kind), what="checking")
            existed = True
        except NotFoundError:
            existed = False

    def create() -> object:
        try:
            return api.create_repo(
                full_id,
                repo_type=kind,
                private=private,
                exist_ok=exist_ok,
                space_sdk=space_sdk if kind == "space" else None,
            )
        except HfHubHTTPError as exc:
            if exc.response is not None and exc.response.status_code == 409:
                raise UserError(
                    f"The {kind} {full_id} already exists. Pass exist_ok=true to use it as it "
                    f"is, or choose another name."
                ) from None
            raise

    call_hub(settings, create, what=f"creating {kind} {full_id}", write=True)
    return RepoCreated(
        repo_id=full_id,
        kind=kind,
        url=repo_url(settings, full_id, kind),
        private=private,
        created=not existed,
    )


def upload(
    settings: Settings,
    *,
    repo_id: str,
    path_in_repo: str,
    kind: Kind = "model",
    content: str | None = None,
    local_path: str | None = None,
    sandbox_id: str | None = None,
    sandbox_path: str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
) -> CommitResult:
    """Upload text, a local file/folder inside the roots, or a sandbox file as one commit.

    Raises MissingCredentialError without HF_TOKEN, UserError when no single source is given,
    a path leaves the roots or the sandbox, the content holds a secret's value, or the Hub fails.
    """
    from huggingface_hub import CommitOperationAdd

    require_token(settings, "uploading to the Hub")
    files = _upload_files(settings, path_in_repo, content, local_path, sandbox_id, sandbox_path)
    refuse_secrets(files, [hub_token(settings) or ""])
    operations = [
        CommitOperationAdd(
            path_in_repo=f.path_in_repo,
            path_or_fileobj=f.content if f.content is not None else str(f.local),
        )
        for f in files
    ]
    message = commit_message or (
        f"Upload {files[0].path_in_repo}" if len(files) == 1 else f"Upload {len(files)} files"
    )
    return _commit(
        settings,
        hub_api(settings),
        repo_id,
        kind,
        operations,
        message,
        revision=revision,
        create_pr=create_pr,
        what=f"uploading to {kind} {repo_id}",
        not_found=lambda: (
            missing_repo_message(settings, repo_id, kind)
            + f" Create it first with hub_write(repo_id={repo_id!r}, op='create', kind={kind!r})."
        ),
        paths=[f.path_in_repo for f in files],
        bytes_uploaded=sum(f.size for f in files),
    )


def _commit(
    settings: Settings,
    api: Any,
    repo_id: str,
    kind: Kind,
    operations: list[Any],
    message: str,
    *,
    revision: str | None,
    create_pr: bool,
    what: str,
    paths: list[str],
    not_found: Callable[[], str] | None = None,
    bytes_uploaded: int | None = None,
) -> CommitResult:
    """One commit of ``operations`` (uploads or deletes) through call_hub, as a CommitResult."""
    info = call_hub(
        settings,
        lambda: api.create_commit(
            repo_id,
            operations,
            commit_message=message,
            repo_type=kind,
            revision=revision,
            create_pr=create_pr,
        ),
        what=what,
        write=True,
        not_found=not_found,
    )
    return CommitResult(
        repo_id=repo_id,
        kind=kind,
        commit_url=info.commit_url,
        commit_oid=info.oid,
        pr_url=info.pr_url,
        paths=paths,
        bytes_uploaded=bytes_uploaded,
    )


def _upload_files(
    settings: Settings,
    path_in_repo: str,
    content: str | None,
    local_path: str | None,
    sandbox_id: str | None,
    sandbox_path: str | None,
) -> list[UploadFile]:
    sources = [
        name
        for name, given in (
            ("content", content is not None),
            ("local_path", local_path is not None),
            ("sandbox_id+sandbox_path", sandbox_id is not None or sandbox_path is not None),
        )
        if given
    ]
    if len(sources) != 1:
        raise UserError(
            "Give exactly one source: content (text), local_path (a file or folder on the "
            f"server's machine), or sandbox_id with sandbox_path. Got: {', '.join(sources) or 'none'}."
        )
    target = clean_repo_path(path_in_repo)
    if content is not None:
        if not target:
            raise UserError("path_in_repo must name the file to write, e.g. 'README.md'.")
        return [UploadFile(path_in_repo=target, content=content.encode("utf-8"))]
    if local_path is not None:
        return collect_files(resolve_local_path(settings, local_path), target)
    if not (sandbox_id and sandbox_path):
        raise UserError("Pass both sandbox_id and sandbox_path to upload from a sandbox.")
    return collect_files(resolve_sandbox_path(settings, sandbox_id, sandbox_path), target)


def delete(
    settings: Settings,
    *,
    repo_id: str,
    paths: list[str],
    kind: Kind = "model",
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
) -> CommitResult:
    """Delete files or folders from a repository in one commit (never the repository itself).

    Raises MissingCredentialError without HF_TOKEN, UserError for an empty list or the root,
    NotFoundError when a path does not exist (nothing is deleted then).
    """
    from huggingface_hub import CommitOperationDelete, RepoFolder

    require_token(settings, "deleting files on the Hub")
    wanted = list(dict.fromkeys(clean_repo_path(p) for p in paths))
    if not wanted or "" in wanted:
        raise UserError("Name the files or folders to delete; the repository root is refused.")
    api = hub_api(settings)
    found = call_hub(
        settings,
        lambda: api.get_paths_info(repo_id, wanted, revision=revision, repo_type=kind),
        what=f"looking up files in {kind} {repo_id}",
        not_found=lambda: missing_repo_message(settings, repo_id, kind),
    )
    by_path = {entry.path: entry for entry in found}
    missing = [p for p in wanted if p not in by_path]
    if missing:
        # Delete all or nothing: a partial delete from a mistyped list is worse than none.
        raise NotFoundError(
            f"Not in {kind} {repo_id} at {revision or 'main'}: {', '.join(missing)}. Nothing was "
            f"deleted. Check the paths with hub_repo(repo_id={repo_id!r}, op='list')."
        )
    operations = [
        CommitOperationDelete(path_in_repo=p, is_folder=isinstance(by_path[p], RepoFolder))
        for p in wanted
    ]
    message = commit_message or f"Delete {', '.join(wanted)}"[:200]
    return _commit(
        settings,
        api,
        repo_id,
        kind,
        operations,
        message,
        revision=revision,
        create_pr=create_pr,
        what=f"deleting files in {kind} {repo_id}",
        paths=wanted,
    )
