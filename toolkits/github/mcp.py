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
    "files, github_read_file reads one (notebooks as markdown), github_list_repos lists an "
    "owner's repositories, github_search_code searches code (needs GITHUB_TOKEN)."
)

T = TypeVar("T")

Repo = Annotated[
    str,
    Field(
        min_length=3,
        max_length=200,
        description="Repository as 'owner/name' (a github.com URL also works).",
    ),
]
Ref = Annotated[
    str | None,
    Field(max_length=255, description="Branch, tag or commit; default branch if omitted."),
]


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
                description="Words or identifiers to find, e.g. 'GRPOTrainer' or "
                "'lora_alpha peft'; GitHub qualifiers such as path:examples also work.",
            ),
        ],
        ctx: Context,
        repo: Annotated[
            str | None,
            Field(max_length=200, description="Only this repository ('owner/name')."),
        ] = None,
        language: Annotated[
            str | None, Field(max_length=40, description="Only this language, e.g. 'python'.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=30, description="Results to return.")] = 10,
        offset: Annotated[
            int, Field(ge=0, le=999, description="Skip this many results (from next_offset).")
        ] = 0,
    ) -> core.CodeSearchResult:
        """Search the code of public GitHub repositories (GitHub code search; needs GITHUB_TOKEN).

        Use it to see how a library API is used in practice, e.g. query='GRPOTrainer' with
        language='python', or to locate where a repository defines something (repo='owner/name').
        Returns repository, path and matching fragments per hit, plus total_count; page with
        offset=next_offset. Read a whole file with github_read_file. Without a token, use
        github_find_examples instead (it searches file paths, not contents).
        """
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
            str,
            Field(
                max_length=100,
                description="What the example should show, e.g. 'grpo', 'lora', 'dpo trainer'; "
                "empty lists the repository's example files.",
            ),
        ] = "",
        ref: Ref = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Files to return.")] = 20,
        offset: Annotated[
            int, Field(ge=0, le=100_000, description="Skip this many (from next_offset).")
        ] = 0,
    ) -> core.ExampleList:
        """Find a repository's example scripts and notebooks, ranked for a keyword.

        Walks the repository's whole file tree (no token needed) and ranks files under
        examples/, scripts/, notebooks/, tutorials/, recipes/ and the like, and files whose
        name or folder contains the keyword's words; tests rank last. Use it to find a
        working training script before writing one, e.g. repo='huggingface/trl',
        keyword='grpo'. Returns paths with sizes and why each ranked; read one with
        github_read_file. If no path matches the keyword, the example files are returned and
        keyword_matched is false.
        """
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
        owner: Annotated[
            str,
            Field(
                min_length=1,
                max_length=100,
                description="GitHub user or organization login, e.g. 'huggingface'.",
            ),
        ],
        ctx: Context,
        sort: Annotated[
            core.RepoSort,
            Field(description="stars | forks | updated (last push) | name."),
        ] = "stars",
        limit: Annotated[int, Field(ge=1, le=100, description="Repositories to return.")] = 20,
        offset: Annotated[
            int, Field(ge=0, le=999, description="Skip this many (from next_offset).")
        ] = 0,
    ) -> core.RepoList:
        """List a GitHub user's or organization's repositories, sorted across all of them.

        Reads every page (up to the 1000 most recently pushed repositories) before sorting, so
        sort='stars' really gives the most-starred ones. Each entry has stars, forks, language,
        last push and description. Use it to find an organization's main libraries or the
        right repository name before github_find_examples or github_read_file.
        """
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
        path: Annotated[
            str,
            Field(
                min_length=1,
                max_length=1000,
                description="File path in the repository, e.g. 'examples/scripts/sft.py'.",
            ),
        ],
        ctx: Context,
        ref: Ref = None,
        line_start: Annotated[
            int, Field(ge=1, le=10_000_000, description="First line to return (1-based).")
        ] = 1,
        line_end: Annotated[
            int | None,
            Field(ge=1, le=10_000_000, description="Last line to return; default: as many as fit."),
        ] = None,
    ) -> core.FileWindow:
        """Read a text file from a GitHub repository, by line range, with line numbers.

        Returns as many lines from line_start as fit the output budget; when the file goes on,
        truncated is true and next_line_start says where to continue (the hint has the exact
        call). Jupyter notebooks (.ipynb) come back as markdown: markdown cells as text, code
        cells as fenced code, outputs left out. Binary files are refused. A wrong path gets
        suggestions of similar paths; a wrong repository gets similar repository names.
        """
        return await _in_thread(
            ctx,
            lambda progress: core.read_file(
                settings, repo, path, ref, line_start, line_end, progress
            ),
        )

    return toolkit.mcp
