"""MCP layer of the hub toolkit: schemas, annotations and descriptions of the hub_* tools."""

from __future__ import annotations

import functools
from typing import Annotated, Literal

import anyio
from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext
from toolkits.hub import browse, models, write
from toolkits.hub.models import Kind

INSTRUCTIONS = (
    "Search the Hugging Face Hub and read repositories (hub_search, hub_repo_info, "
    "hub_list_files, hub_read_file); with HF_TOKEN, create repositories and push or delete "
    "files (hub_create_repo, hub_upload, hub_delete)."
)

RepoId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$",
        description="Repository id, 'namespace/name' (e.g. 'openai-community/gpt2').",
    ),
]
KindParam = Annotated[Kind, Field(description="Repository kind.")]
Revision = Annotated[
    str | None,
    Field(max_length=200, description="Branch, tag or commit; default 'main'."),
]
RepoPath = Annotated[str, Field(max_length=1000, description="Path inside the repository.")]


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("hub", ctx, INSTRUCTIONS)
    settings = ctx.settings

    @toolkit.tool(
        name="search",
        title="Search the Hub",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def search(
        query: Annotated[
            str, Field(max_length=200, description="Words to match in repo ids.")
        ] = "",
        kind: KindParam = "model",
        author: Annotated[
            str | None, Field(max_length=100, description="Only this user or organization.")
        ] = None,
        filters: Annotated[
            list[Annotated[str, Field(max_length=100)]],
            Field(
                max_length=10,
                description="Hub tags that must all match, e.g. 'text-classification', "
                "'library:peft', 'license:apache-2.0', 'dataset:imdb', 'arxiv:2106.09685'.",
            ),
        ] = [],  # noqa: B006 - pydantic copies defaults; a list keeps the schema simple
        sort: Literal["downloads", "likes", "trending", "created", "modified"] = "downloads",
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        offset: Annotated[int, Field(ge=0, le=1000, description="Skip this many results.")] = 0,
    ) -> models.SearchResults:
        """Find models, datasets or Spaces on the Hugging Face Hub.

        Matches the query against repository ids, narrowed by author and tag filters (task,
        library, license, dataset:<id>, arxiv:<id>), sorted best-first by downloads, likes,
        trending score or date. Returns id, downloads, likes, task and library per result; use
        hub_repo_info on one of them for details. Page with offset when the result says
        truncated.
        """
        return browse.search(
            settings,
            query=query,
            kind=kind,
            author=author,
            filters=filters,
            sort=sort,
            limit=limit,
            offset=offset,
        )

    @toolkit.tool(
        name="repo_info",
        title="Repository details",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def repo_info(
        repo_id: RepoId, kind: KindParam = "model", revision: Revision = None
    ) -> models.RepoInfo:
        """Details of one Hub repository: license, task, library, tags, downloads, likes, the
        parameter count (from safetensors metadata), total size, a few file names and the start
        of its model/dataset card. A wrong id gets suggestions of similar ids, or of the right
        kind when the id exists as another kind.
        """
        return browse.repo_info(settings, repo_id=repo_id, kind=kind, revision=revision)

    @toolkit.tool(
        name="list_files",
        title="List repository files",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def list_files(
        repo_id: RepoId,
        kind: KindParam = "model",
        path: RepoPath = "",
        revision: Revision = None,
        recursive: Annotated[bool, Field(description="Include files in sub-folders.")] = False,
        offset: Annotated[int, Field(ge=0, le=100_000, description="Skip this many entries.")] = 0,
        limit: Annotated[int, Field(ge=1, le=500)] = 100,
    ) -> models.FileListing:
        """List the files and folders of a Hub repository (one folder, or recursively), with
        sizes and whether each file is stored in LFS. Page with offset when truncated. Read a
        text file with hub_read_file.
        """
        return browse.list_files(
            settings,
            repo_id=repo_id,
            kind=kind,
            path=path,
            revision=revision,
            recursive=recursive,
            offset=offset,
            limit=limit,
        )

    @toolkit.tool(
        name="read_file",
        title="Read a repository file",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def read_file(
        repo_id: RepoId,
        path: Annotated[str, Field(min_length=1, max_length=1000, description="File path.")],
        kind: KindParam = "model",
        revision: Revision = None,
        offset: Annotated[int, Field(ge=0, le=100_000_000, description="Start character.")] = 0,
        max_chars: Annotated[int, Field(ge=100, le=50_000)] = 10_000,
    ) -> models.FileContent:
        """Read a text file from a Hub repository (config.json, README.md, a training script,
        tokenizer_config.json ...), a window of max_chars characters from offset. Binary files
        (weights, parquet, images) are detected and not dumped: the answer says binary=true and
        what to use instead. Continue with offset=next_offset when truncated.
        """
        return browse.read_file(
            settings,
            repo_id=repo_id,
            path=path,
            kind=kind,
            revision=revision,
            offset=offset,
            max_chars=max_chars,
        )

    @toolkit.tool(
        name="create_repo",
        title="Create a repository",
        read_only=False,
        destructive=False,
        idempotent=False,
        open_world=True,
    )
    def create_repo(
        repo_id: RepoId,
        kind: KindParam = "model",
        private: Annotated[bool, Field(description="Private (default) or public.")] = True,
        exist_ok: Annotated[bool, Field(description="Succeed if it already exists.")] = False,
        space_sdk: Literal["gradio", "streamlit", "docker", "static"] | None = None,
    ) -> models.RepoCreated:
        """Create a model, dataset or Space repository on the Hub (needs HF_TOKEN with write
        access). A bare name goes to the token owner's namespace. Repositories are private
        unless private=false. Spaces need space_sdk.
        """
        return write.create_repo(
            settings,
            repo_id=repo_id,
            kind=kind,
            private=private,
            exist_ok=exist_ok,
            space_sdk=space_sdk,
        )

    @toolkit.tool(
        name="upload",
        title="Upload to a repository",
        read_only=False,
        destructive=False,
        idempotent=False,
        open_world=True,
    )
    async def upload(
        repo_id: RepoId,
        path_in_repo: Annotated[
            str,
            Field(max_length=1000, description="Destination file, or folder for a folder upload."),
        ],
        ctx: Context,
        kind: KindParam = "model",
        content: Annotated[
            str | None, Field(max_length=1_000_000, description="Text to write as the file.")
        ] = None,
        local_path: Annotated[
            str | None,
            Field(max_length=4096, description="A file or folder on the server's machine."),
        ] = None,
        sandbox_id: Annotated[
            str | None, Field(max_length=64, description="Upload from this sandbox ...")
        ] = None,
        sandbox_path: Annotated[
            str | None, Field(max_length=4096, description="... this path in its workspace.")
        ] = None,
        revision: Revision = None,
        create_pr: Annotated[bool, Field(description="Open a pull request instead.")] = False,
        commit_message: Annotated[str | None, Field(max_length=500)] = None,
    ) -> models.CommitResult:
        """Commit one file or a whole folder to a Hub repository (needs HF_TOKEN with write
        access). Give exactly one source: content (text), local_path, or sandbox_id +
        sandbox_path (a file or folder inside that sandbox's workspace). Folders keep their
        layout under path_in_repo. Files that contain a known credential are refused. Use
        create_pr=true to propose the change instead of writing to the branch.
        """
        await ctx.report_progress(0, 1, f"uploading to {repo_id}")
        result = await anyio.to_thread.run_sync(
            functools.partial(
                write.upload,
                settings,
                repo_id=repo_id,
                path_in_repo=path_in_repo,
                kind=kind,
                content=content,
                local_path=local_path,
                sandbox_id=sandbox_id,
                sandbox_path=sandbox_path,
                revision=revision,
                create_pr=create_pr,
                commit_message=commit_message,
            )
        )
        await ctx.report_progress(1, 1, f"committed {len(result.paths)} file(s)")
        return result

    @toolkit.tool(
        name="delete",
        title="Delete repository files",
        read_only=False,
        destructive=True,
        idempotent=True,
        open_world=True,
    )
    def delete(
        repo_id: RepoId,
        paths: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=1000)]],
            Field(min_length=1, max_length=100, description="Files or folders to delete."),
        ],
        kind: KindParam = "model",
        revision: Revision = None,
        create_pr: Annotated[bool, Field(description="Propose as a pull request.")] = False,
        commit_message: Annotated[str | None, Field(max_length=500)] = None,
    ) -> models.CommitResult:
        """Delete files or folders from a Hub repository in one commit (needs HF_TOKEN with
        write access). All paths must exist, otherwise nothing is deleted and the missing ones
        are named. The repository itself is never deleted. This removes content from the
        branch: confirm with the user first.
        """
        return write.delete(
            settings,
            repo_id=repo_id,
            paths=paths,
            kind=kind,
            revision=revision,
            create_pr=create_pr,
            commit_message=commit_message,
        )

    return toolkit.mcp
