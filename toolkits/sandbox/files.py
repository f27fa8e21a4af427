"""Reading, writing and editing sandbox files over any backend's byte-level file access."""

from __future__ import annotations

from pathlib import PurePosixPath

from server.errors import NotFoundError, UserError
from toolkits.sandbox import textview
from toolkits.sandbox.backends.base import SandboxBackend, SandboxRef
from toolkits.sandbox.models import DirEntryView, EditResult, FileView, WriteResult
from toolkits.sandbox.paths import display, workspace_relative
from toolkits.sandbox.records import SandboxRecord

MAX_EDIT_BYTES = 8 * 1024 * 1024
MAX_DIR_ENTRIES = 200


class Target:
    """One path argument of one sandbox, checked to stay inside the workspace."""

    backend: SandboxBackend
    ref: SandboxRef
    sandbox_id: str
    path: PurePosixPath
    shown: str

    def __init__(self, backend: SandboxBackend, record: SandboxRecord, path: str):
        self.backend = backend
        self.ref = record.ref()
        self.sandbox_id = record.sandbox_id
        self.path = workspace_relative(path, record.workspace)
        self.shown = display(self.path)


async def read(target: Target, *, offset: int, limit: int, max_chars: int) -> FileView:
    backend, ref, sandbox_id, shown = target.backend, target.ref, target.sandbox_id, target.shown
    entry = await backend.stat(ref, target.path)
    if entry.kind == "missing":
        raise NotFoundError(
            f"No file {shown!r} in {sandbox_id}. See what is there with "
            f"sandbox_files(sandbox_id='{sandbox_id}', path='.')."
        )
    if entry.kind == "dir":
        entries = await backend.list_dir(ref, target.path)
        more = len(entries) > MAX_DIR_ENTRIES
        return FileView(
            sandbox_id=sandbox_id,
            path=shown,
            kind="dir",
            entries=[DirEntryView(**vars(e)) for e in entries[:MAX_DIR_ENTRIES]],
            truncated=more,
            hint="More entries exist; list them with sandbox_exec (ls)." if more else None,
        )
    if entry.kind != "file":
        raise UserError(f"{shown!r} is not a regular file (a device, socket or pipe).")
    reader = await backend.open_reader(ref, target.path)
    try:
        view = FileView(sandbox_id=sandbox_id, path=shown, kind="file", size_bytes=reader.size)
        if textview.looks_binary(await reader.read(0, textview.SNIFF_BYTES)):
            view.binary = True
            view.hint = "Inspect binary files with sandbox_exec (e.g. xxd, file, python)."
            return view
        page = await textview.page_lines(reader, offset=offset, limit=limit, max_chars=max_chars)
    finally:
        await reader.close()
    view.text, view.start_line, view.end_line = page.text, page.start_line, page.end_line
    view.total_lines, view.truncated = page.total_lines, page.more
    if page.more:
        view.next_offset = page.end_line + 1
        view.hint = (
            f"More lines follow: sandbox_files(sandbox_id='{sandbox_id}', path='{shown}', "
            f"offset={view.next_offset})."
        )
    elif page.total_lines is not None and offset > page.total_lines > 0:
        view.hint = f"The file has only {page.total_lines} lines."
    return view


async def write(target: Target, content: str) -> WriteResult:
    before = await target.backend.stat(target.ref, target.path)
    if before.kind == "dir":
        raise UserError(f"{target.shown!r} is a directory; give a file path.")
    data = content.encode()
    await target.backend.write_file(target.ref, target.path, data)
    return WriteResult(
        sandbox_id=target.sandbox_id,
        path=target.shown,
        bytes_written=len(data),
        created=before.kind == "missing",
    )


async def edit(target: Target, old: str, new: str, replace_all: bool) -> EditResult:
    shown = target.shown
    entry = await target.backend.stat(target.ref, target.path)
    if entry.kind != "file":
        raise NotFoundError(
            f"No file {shown!r} to edit in {target.sandbox_id}; create it with op='write'."
        )
    reader = await target.backend.open_reader(target.ref, target.path)
    try:
        # The size of the file actually opened: sandbox code may swap it after the stat above.
        if reader.size > MAX_EDIT_BYTES:
            raise UserError(
                f"{shown} is {reader.size} bytes, over the {MAX_EDIT_BYTES // 2**20} MiB edit "
                f"limit; change it with sandbox_exec (sed, python) instead."
            )
        raw = await reader.read(0, min(reader.size, MAX_EDIT_BYTES))
    finally:
        await reader.close()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{shown} is not UTF-8 text; edit it with sandbox_exec.") from None
    updated, count, first = textview.apply_edit(text, old, new, replace_all, shown)
    data = updated.encode()
    await target.backend.write_file(target.ref, target.path, data)
    snippet, _ = textview.snippet_around(updated, first, len(new))
    return EditResult(
        sandbox_id=target.sandbox_id,
        path=shown,
        replacements=count if replace_all else 1,
        size_bytes=len(data),
        snippet=snippet,
    )
