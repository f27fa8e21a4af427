"""MCP layer of the sandbox toolkit: schemas, annotations, progress, rendering."""

from __future__ import annotations

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext
from toolkits.sandbox import models
from toolkits.sandbox.core import SandboxService

INSTRUCTIONS = (
    "Isolated places to run code: create a sandbox, write files into it, run bash or python "
    "there (sandbox_exec), read and edit its files, destroy it when done."
)

SandboxId = Annotated[
    str,
    Field(min_length=1, max_length=64, description="The id sandbox_create returned (sbx-...)."),
]
WorkspacePath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        description="Path inside the workspace, relative to it (e.g. 'train.py', 'data/x.csv').",
    ),
]


def build(ctx: ToolkitContext) -> FastMCP:
    toolkit = Toolkit("sandbox", ctx, INSTRUCTIONS)
    service: SandboxService | None = None

    def sandboxes() -> SandboxService:
        # Built on first use so that mounting the toolkit touches no file and imports no SDK.
        nonlocal service
        if service is None:
            service = SandboxService(ctx.settings, ctx.store)
        return service

    # openWorldHint: create and exec can reach the network (network=True, or E2B's cloud);
    # reading and writing files of an existing sandbox touches nothing beyond it.
    @toolkit.tool(
        name="create",
        title="Create a sandbox",
        read_only=False,
        destructive=False,
        idempotent=False,
        open_world=True,
    )
    async def create(
        backend: Annotated[
            Literal["local", "e2b"],
            Field(description="'local' (this machine, bubblewrap) or 'e2b' (E2B cloud VM)."),
        ] = "local",
        network: Annotated[
            bool,
            Field(
                description="Allow network access (needed for pip install from PyPI). Local "
                "sandboxes reach the internet through slirp4netns but not this machine's "
                "loopback services; without slirp4netns they share the machine's network (the "
                "result warns)."
            ),
        ] = False,
        idle_timeout_s: Annotated[
            int, Field(ge=60, le=86_400, description="Destroyed after this long unused.")
        ] = 1800,
        memory_mb: Annotated[
            int, Field(ge=128, le=262_144, description="Memory limit of each command, MiB.")
        ] = 4096,
        cpu_s: Annotated[
            int, Field(ge=1, le=86_400, description="CPU seconds each command may use.")
        ] = 600,
        files: Annotated[
            dict[str, Annotated[str, Field(max_length=5_000_000)]] | None,
            Field(max_length=200, description="Initial files: {relative path: text content}."),
        ] = None,
    ) -> models.SandboxInfo:
        """Create an isolated sandbox to try code in, and return its sandbox_id.

        The local backend (default) gives a private workspace directory with Python and the
        host's installed ML packages (torch etc.) available read-only; commands run under
        bubblewrap with memory/CPU limits and no network unless network=True (then `pip
        install` works into the sandbox's own venv). backend='e2b' uses an E2B cloud VM and
        needs E2B_API_KEY. Optional `files` are written into the workspace first. The result
        states the isolation level actually in force and the limits. Sandboxes and their
        files persist across server restarts until sandbox_destroy or the idle timeout.
        """
        return await sandboxes().create(
            backend=backend,
            network=network,
            idle_timeout_s=idle_timeout_s,
            memory_mb=memory_mb,
            cpu_s=cpu_s,
            files=files,
        )

    @toolkit.tool(
        name="exec",
        title="Run a command in a sandbox",
        read_only=False,
        destructive=False,
        idempotent=False,
        open_world=True,
    )
    async def exec_(
        sandbox_id: SandboxId,
        command: Annotated[
            str,
            Field(
                min_length=1,
                max_length=100_000,
                description="Bash command line, or Python source when language='python'.",
            ),
        ],
        ctx: Context,
        language: Annotated[
            Literal["bash", "python"], Field(description="How to run `command`.")
        ] = "bash",
        timeout_s: Annotated[
            float, Field(ge=1, le=3600, description="Wall-clock limit; then everything is killed.")
        ] = 120,
        stdin: Annotated[
            str | None, Field(max_length=1_000_000, description="Text fed to standard input.")
        ] = None,
        env: Annotated[
            dict[str, Annotated[str, Field(max_length=4096)]] | None,
            Field(max_length=64, description="Extra environment variables (no credentials)."),
        ] = None,
    ) -> models.ExecResult:
        """Run a bash command (or Python source with language='python') in a sandbox.

        The working directory and HOME are the workspace; `python`/`pip` are the sandbox's
        venv. Returns exit_code, stdout and stderr (long output keeps its head and tail; the
        full text is saved in the workspace and the result says where to sandbox_read it),
        the duration, and killed/killed_reason when the timeout or a memory/CPU limit ended
        it. Nothing the command started keeps running afterwards. Reports progress while
        running. For jobs longer than an hour, use jobs_submit instead.
        """
        return await sandboxes().exec(
            sandbox_id,
            command,
            language=language,
            timeout_s=timeout_s,
            stdin=stdin,
            env=env,
            progress=ctx.report_progress,
        )

    @toolkit.tool(
        name="read",
        title="Read a sandbox file",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    async def read(
        sandbox_id: SandboxId,
        path: WorkspacePath = ".",
        offset: Annotated[
            int, Field(ge=1, le=1_000_000_000, description="First line to show (1-based).")
        ] = 1,
        limit: Annotated[int, Field(ge=1, le=2000, description="Most lines to show.")] = 400,
    ) -> models.FileView:
        """Read a text file of a sandbox with line numbers, or list a directory.

        Shows at most `limit` lines from line `offset`; when more follow, the result gives
        next_offset and the exact call for the next page. Binary files are detected and not
        dumped. A directory path (default '.') lists its entries. Line numbers and the tab
        after them are not part of the file (leave them out of sandbox_edit's `old`).
        """
        return await sandboxes().read(sandbox_id, path, offset=offset, limit=limit)

    @toolkit.tool(
        name="write",
        title="Write a sandbox file",
        read_only=False,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    async def write(
        sandbox_id: SandboxId,
        path: WorkspacePath,
        content: Annotated[
            str, Field(max_length=5_000_000, description="The whole new file content (text).")
        ],
    ) -> models.WriteResult:
        """Create or overwrite a text file in a sandbox's workspace (parent folders are made).

        Use it for scripts, configs and small data files; for a change inside an existing file
        prefer sandbox_edit. Paths must stay inside the workspace.
        """
        return await sandboxes().write(sandbox_id, path, content)

    @toolkit.tool(
        name="edit",
        title="Edit a sandbox file",
        read_only=False,
        destructive=False,
        idempotent=False,
        open_world=False,
    )
    async def edit(
        sandbox_id: SandboxId,
        path: WorkspacePath,
        old: Annotated[
            str, Field(min_length=1, max_length=200_000, description="Exact text to replace.")
        ],
        new: Annotated[str, Field(max_length=1_000_000, description="Replacement text.")],
        replace_all: Annotated[
            bool, Field(description="Replace every occurrence instead of exactly one.")
        ] = False,
    ) -> models.EditResult:
        """Replace an exact piece of text in a sandbox file and show the lines around it.

        `old` must match the file exactly (whitespace included) and, unless replace_all=true,
        occur exactly once: when it is missing or ambiguous the edit fails with the line
        numbers of the matches and nothing changes.
        """
        return await sandboxes().edit(sandbox_id, path, old, new, replace_all)

    @toolkit.tool(
        name="list",
        title="List sandboxes",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    async def list_(
        limit: Annotated[int, Field(ge=1, le=100, description="Most sandboxes to show.")] = 50,
        include_destroyed: Annotated[
            bool, Field(description="Also show destroyed and reaped sandboxes.")
        ] = False,
    ) -> models.SandboxList:
        """List sandboxes (newest first) with backend, isolation, workspace and last use.

        Sandboxes idle past their idle timeout are reaped before listing.
        """
        return await sandboxes().list(limit=limit, include_destroyed=include_destroyed)

    @toolkit.tool(
        name="destroy",
        title="Destroy a sandbox",
        read_only=False,
        destructive=True,
        idempotent=True,
        open_world=False,
    )
    async def destroy(sandbox_id: SandboxId) -> models.DestroyResult:
        """Stop everything running in a sandbox and delete it with all its files.

        Destroying an already destroyed sandbox is harmless and says so.
        """
        return await sandboxes().destroy(sandbox_id)

    return toolkit.mcp
