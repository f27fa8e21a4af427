"""The one file tool's operations (read, write, edit) chosen by name, over SandboxService."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from server.errors import UserError
from toolkits.sandbox.models import EditResult, FileView, WriteResult

if TYPE_CHECKING:
    from toolkits.sandbox.core import SandboxService

FileOp = Literal["read", "write", "edit"]


async def file_op(
    service: SandboxService,
    sandbox_id: str,
    op: FileOp,
    path: str,
    *,
    content: str | None = None,
    old: str | None = None,
    new: str | None = None,
    replace_all: bool = False,
    offset: int = 1,
    limit: int = 400,
    writable: bool = True,
) -> FileView | WriteResult | EditResult:
    """Read a file or list a folder, write a whole file, or replace exact text in one.

    Raises UserError naming the argument an operation needs and lacks (and whatever the
    service raises: an unknown sandbox, a path outside the workspace, a failed edit).
    A server started with --read-only passes ``writable=False``: then only 'read' is served.
    """
    if op == "read":
        return await service.read(sandbox_id, path, offset=offset, limit=limit)
    if not writable:
        raise UserError(f"This server is read-only: op={op!r} is not available, only 'read'.")
    if op == "write":
        if content is None:
            raise UserError("op='write' needs content: the whole new text of the file.")
        return await service.write(sandbox_id, path, content)
    if old is None or new is None:
        raise UserError(
            "op='edit' needs old (the exact text to replace, copied from op='read') and new."
        )
    return await service.edit(sandbox_id, path, old, new, replace_all)
