"""MCP layer of the GitHub toolkit: schemas, annotations, progress, rendering.

PyGithub is synchronous: every call runs in a worker thread, and progress reported from there
hops back to the event loop, which stays free for other requests meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext, progress_from_thread
from toolkits.github import core

INSTRUCTIONS = (
    "Find and read example code on GitHub: github_find_examples ranks a repository's example "
    "files, github_read_file reads one, github_list_repos lists an owner's repositories, "
    "github_search_code searches code (needs GITHUB_TOKEN)."
)

T = TypeVar("T")

Repo = Annotated[str, Field(min_length=3, max_length=200, description="'owner/name' or URL")]
Ref = Annotated[str | None, Field(max_length=255)]


async def _in_thread(ctx: Context, work: Callable[[core.Progress], T]) -> T:
    """Run blocking ``work`` in a worker thread, forwarding its progress to the client."""

    return await anyio.to_thread.run_sync(work, progress_from_thread(ctx))


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("github", ctx, INSTRUCTIONS)
    settings = ctx.settings

    @toolkit.tool(
        name="search_code",
        title="Search code on GitHub",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def search_code(
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=256,
                description="GitHub qualifiers like path:examples work",
            ),
        ],
        ctx: Context,
        repo: Annotated[str | None, Field(max_length=200)] = None,
        language: Annotated[str | None, Field(max_length=40)] = None,
        limit: Annotated[int, Field(ge=1, le=30)] = 10,
        offset: Annotated[int, Field(ge=0, le=999)] = 0,
    ) -> core.CodeSearchResult:
        """Search code in public GitHub repositories (needs GITHUB_TOKEN; without one use
        github_find_examples): repository, path and matching fragments per hit."""
        return await _in_thread(
            ctx,
            lambda progress: core.search_code(
                settings, query, repo, language, limit, offset, progress
            ),
        )

    @toolkit.tool(
        name="find_examples",
        title="Find example files in a repository",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def find_examples(
        repo: Repo,
        ctx: Context,
        keyword: Annotated[
            str, Field(max_length=100, description="e.g. 'grpo', 'lora'; empty: all examples")
        ] = "",
        ref: Ref = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0, le=100_000)] = 0,
    ) -> core.ExampleList:
        """A repository's example scripts and notebooks ranked for a keyword (no token
        needed): find a working training script before writing one."""
        return await _in_thread(
            ctx,
            lambda progress: core.find_examples(
                settings, repo, keyword, ref, limit, offset, progress
            ),
        )

    @toolkit.tool(
        name="list_repos",
        title="List an owner's repositories",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def list_repos(
        owner: Annotated[str, Field(min_length=1, max_length=100)],
        ctx: Context,
        sort: core.RepoSort = "stars",
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0, le=999)] = 0,
    ) -> core.RepoList:
        """An owner's GitHub repositories, sorted across all: stars, forks, language,
        last push, description."""
        return await _in_thread(
            ctx,
            lambda progress: core.list_repos(settings, owner, sort, limit, offset, progress),
        )

    @toolkit.tool(
        name="read_file",
        title="Read a file from a GitHub repository",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=True,
    )
    async def read_file(
        repo: Repo,
        path: Annotated[str, Field(min_length=1, max_length=1000)],
        ctx: Context,
        ref: Ref = None,
        line_start: Annotated[int, Field(ge=1, le=10_000_000)] = 1,
        line_end: Annotated[int | None, Field(ge=1, le=10_000_000)] = None,
    ) -> core.FileWindow:
        """Read a text file from a GitHub repository with line numbers, from line_start
        as far as fits. Notebooks come as markdown; a wrong path gets suggestions."""
        return await _in_thread(
            ctx,
            lambda progress: core.read_file(
                settings, repo, path, ref, line_start, line_end, progress
            ),
        )

    return toolkit.mcp
