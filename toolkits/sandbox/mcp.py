"""MCP layer of the sandbox toolkit: schemas, annotations, progress, rendering."""

from __future__ import annotations

from typing import Annotated, Literal

from fastmcp import Context, FastMCP
from pydantic import Field

from server.toolkit import Toolkit, ToolkitContext
from toolkits.sandbox import models
from toolkits.sandbox.core import SandboxService
from toolkits.sandbox.file_ops import FileOp, file_op

INSTRUCTIONS = (
    "Isolated places to run code: create a sandbox, write, read and edit its files "
    "(sandbox_files), run bash or python there (sandbox_exec), destroy it when done."
)

SandboxId = Annotated[str, Field(min_length=1, max_length=64)]
WorkspacePath = Annotated[str, Field(min_length=1, max_length=1024)]


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
        backend: Literal["local", "e2b"] = "local",
        network: bool = False,
        idle_timeout_s: Annotated[int, Field(ge=60, le=86_400)] = 1800,
        memory_mb: Annotated[int, Field(ge=128, le=262_144)] = 4096,
        cpu_s: Annotated[int, Field(ge=1, le=86_400)] = 600,
        files: Annotated[
            dict[str, Annotated[str, Field(max_length=5_000_000)]] | None,
            Field(max_length=200, description="{path: text} written first"),
        ] = None,
    ) -> models.SandboxInfo:
        """Create an isolated sandbox; returns its sandbox_id. local: bubblewrap, the host's
        Python and ML packages, memory/CPU limits, network only if network=true (pip needs
        it). e2b: a cloud VM (E2B_API_KEY). Kept until sandbox_destroy or idle timeout."""
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
            str, Field(min_length=1, max_length=100_000, description="bash, or Python source")
        ],
        ctx: Context,
        language: Literal["bash", "python"] = "bash",
        timeout_s: Annotated[float, Field(ge=1, le=3600)] = 120,
        stdin: Annotated[str | None, Field(max_length=1_000_000)] = None,
        env: Annotated[
            dict[str, Annotated[str, Field(max_length=4096)]] | None,
            Field(max_length=64),
        ] = None,
    ) -> models.ExecResult:
        """Run a command in a sandbox's workspace (its venv's python/pip): exit_code,
        stdout/stderr (long output keeps head and tail), killed_reason on timeout or limit.
        Nothing it started outlives it. Runs over an hour: jobs_submit."""
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
        name="files",
        title="Read, write or edit sandbox files",
        # A read-only server keeps the reading operation (writes are refused), so the tool is.
        read_only=ctx.read_only,
        destructive=False,
        idempotent=ctx.read_only,
        open_world=False,
    )
    async def files(
        sandbox_id: SandboxId,
        op: FileOp = "read",
        path: WorkspacePath = ".",
        content: Annotated[str | None, Field(max_length=5_000_000)] = None,
        old: Annotated[str | None, Field(max_length=200_000)] = None,
        new: Annotated[str | None, Field(max_length=1_000_000)] = None,
        replace_all: bool = False,
        offset: Annotated[int, Field(ge=1, le=1_000_000_000)] = 1,
        limit: Annotated[int, Field(ge=1, le=2000)] = 400,
    ) -> models.FileView | models.WriteResult | models.EditResult:
        """Files in a sandbox's workspace. read: a text file with line numbers (not part of
        the file) from line offset, or a folder listing. write: path gets content. edit:
        replace old (exact, unique unless replace_all) by new."""
        return await file_op(
            sandboxes(),
            sandbox_id,
            op,
            path,
            content=content,
            old=old,
            new=new,
            replace_all=replace_all,
            offset=offset,
            limit=limit,
            writable=not ctx.read_only,
        )

    @toolkit.tool(
        name="list",
        title="List sandboxes",
        read_only=True,
        destructive=False,
        idempotent=True,
        open_world=False,
    )
    async def list_(
        limit: Annotated[int, Field(ge=1, le=100)] = 50,
        include_destroyed: bool = False,
    ) -> models.SandboxList:
        """List sandboxes, newest first: backend, isolation, workspace, last use."""
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
        """Stop everything running in a sandbox and delete it with all its files."""
        return await sandboxes().destroy(sandbox_id)

    return toolkit.mcp
