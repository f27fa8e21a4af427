"""MCP layer of the hub toolkit: hub_search, hub_repo (read) and hub_write."""

from __future__ import annotations

import functools
import re
from typing import Annotated, Literal

import anyio
from fastmcp import Context, FastMCP
from pydantic import AfterValidator, Field

from server.toolkit import Toolkit, ToolkitContext
from toolkits.hub import core, models
from toolkits.hub.models import Kind

INSTRUCTIONS = (
    "Search the Hugging Face Hub (hub_search), read a repository (hub_repo) and, with "
    "HF_TOKEN, create one or push and delete files (hub_write)."
)

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def _checked_repo_id(value: str) -> str:
    # Checked here rather than as a schema pattern: the same guard, fewer tokens per request.
    if not _REPO_ID.fullmatch(value):
        raise ValueError("a repository id looks like 'namespace/name' (letters, digits, . _ -)")
    return value


RepoId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="'namespace/name'"),
    AfterValidator(_checked_repo_id),
]
Revision = Annotated[str | None, Field(max_length=200)]
Message = Annotated[str | None, Field(max_length=500)]


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
        query: Annotated[str, Field(max_length=200)] = "",
        kind: Kind = "model",
        author: Annotated[str | None, Field(max_length=100)] = None,
        filters: Annotated[
            list[Annotated[str, Field(max_length=100)]],
            Field(
                max_length=10,
                description="all must match, e.g. 'library:peft', 'dataset:imdb'",
            ),
        ] = [],  # noqa: B006 - pydantic copies defaults; a list keeps the schema simple
        sort: Literal["downloads", "likes", "trending", "created", "modified"] = "downloads",
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        offset: Annotated[int, Field(ge=0, le=1000)] = 0,
    ) -> models.SearchResults:
        """Find models, datasets or Spaces on the Hub, best first: id, downloads, likes,
        task, library."""
        return core.search(
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
        name="repo",
        title="Read a Hub repository",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    def repo(
        repo_id: RepoId,
        op: core.ReadOp = "info",
        kind: Kind = "model",
        path: Annotated[str, Field(max_length=1000)] = "",
        revision: Revision = None,
        recursive: bool = False,
        offset: Annotated[int, Field(ge=0, le=100_000_000)] = 0,
        limit: Annotated[int, Field(ge=1, le=500)] = 100,
        max_chars: Annotated[int, Field(ge=100, le=50_000)] = 10_000,
    ) -> models.RepoInfo | models.FileListing | models.FileContent:
        """Read a Hub repository. info: license, task, tags, downloads, parameters, size,
        card start. list: a folder's files. read: a text file from character offset (binary
        files are not dumped)."""
        return core.read_repo(
            settings,
            repo_id,
            op,
            kind=kind,
            path=path,
            revision=revision,
            recursive=recursive,
            offset=offset,
            limit=limit,
            max_chars=max_chars,
        )

    @toolkit.tool(
        name="write",
        title="Write to a Hub repository",
        read_only=False,
        destructive=True,
        idempotent=False,
        open_world=True,
    )
    async def write(
        repo_id: RepoId,
        op: core.WriteOp,
        ctx: Context,
        kind: Kind = "model",
        path: Annotated[
            str | None, Field(max_length=1000, description="upload destination")
        ] = None,
        content: Annotated[str | None, Field(max_length=1_000_000)] = None,
        local_path: Annotated[str | None, Field(max_length=4096)] = None,
        sandbox_id: Annotated[str | None, Field(max_length=64)] = None,
        sandbox_path: Annotated[str | None, Field(max_length=4096)] = None,
        paths: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=1000)]] | None,
            Field(min_length=1, max_length=100, description="to delete"),
        ] = None,
        private: bool = True,
        exist_ok: bool = False,
        space_sdk: Literal["gradio", "streamlit", "docker", "static"] | None = None,
        revision: Revision = None,
        create_pr: bool = False,
        commit_message: Message = None,
    ) -> models.RepoCreated | models.CommitResult:
        """Change a Hub repository (HF_TOKEN with write access). create: private unless
        private=false; Spaces need space_sdk. upload: a file or folder to path from content,
        local_path or sandbox_id+sandbox_path. delete: paths, in one commit; confirm with the
        user first. create_pr=true proposes instead."""
        await ctx.report_progress(0, 1, f"{op} {repo_id}")
        result = await anyio.to_thread.run_sync(
            functools.partial(
                core.write_repo,
                settings,
                repo_id,
                op,
                kind=kind,
                path=path,
                paths=paths,
                content=content,
                local_path=local_path,
                sandbox_id=sandbox_id,
                sandbox_path=sandbox_path,
                private=private,
                exist_ok=exist_ok,
                space_sdk=space_sdk,
                revision=revision,
                create_pr=create_pr,
                commit_message=commit_message,
            )
        )
        await ctx.report_progress(1, 1, "done")
        return result

    return toolkit.mcp
