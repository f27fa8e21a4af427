"""Reading and writing a local workspace on behalf of the sandbox, without ever leaving it.

The server may run as root while the workspace belongs to code the model wrote, so a symlink
planted in the workspace must not turn a read into a read of /etc/shadow or a write into a
write of ~/.bashrc. Two steps make that hold:

1. ``resolve`` follows symlinks by hand, component by component, and refuses any that leads
   outside the workspace (symlinks that stay inside are fine).
2. The resolved path is then opened one component at a time with ``O_NOFOLLOW`` relative to
   the workspace's directory descriptor, so a symlink swapped in after step 1 fails the open
   instead of being followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from server.errors import UserError
from toolkits.sandbox.backends.base import EntryInfo, EntryKind
from toolkits.sandbox.paths import display

MAX_SYMLINK_HOPS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _escape(path: PurePosixPath) -> UserError:
    return UserError(
        f"{display(path)!r} leads outside the sandbox workspace through a symlink; sandbox "
        f"paths must stay inside the workspace."
    )


def _kind(mode: int) -> EntryKind:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "other"


class WorkspaceFS:
    def __init__(self, root: Path, owner: tuple[int, int] | None):
        self.root = Path(os.path.realpath(root))
        self.owner = owner  # (uid, gid) files must belong to, when the server runs as root

    # --- resolution -------------------------------------------------------------------

    def resolve(self, path: PurePosixPath) -> list[str]:
        """The components, under the root, of the real location ``path`` names."""
        pending = [part for part in path.parts if part != "."]
        resolved: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in (".", ""):
                continue
            if part == "..":  # only reachable through a symlink's target
                if not resolved:
                    raise _escape(path)
                resolved.pop()
                continue
            try:
                info = os.lstat(self.root.joinpath(*resolved, part))
            except (FileNotFoundError, NotADirectoryError):
                resolved.append(part)
                continue
            if not stat.S_ISLNK(info.st_mode):
                resolved.append(part)
                continue
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise UserError(f"{display(path)!r}: too many levels of symbolic links.")
            target = PurePosixPath(os.readlink(self.root.joinpath(*resolved, part)))
            if target.is_absolute():
                root = PurePosixPath(self.root)
                if target != root and root not in target.parents:
                    raise _escape(path)
                resolved = []
                target = target.relative_to(root)
            pending = list(target.parts) + pending
        return resolved

    # --- descriptor walk --------------------------------------------------------------

    def _walk(self, parts: list[str], create: bool) -> int:
        """A descriptor of the directory ``parts`` names, each step opened with O_NOFOLLOW."""
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in parts:
                child = self._open_child_dir(fd, part, create)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextlib.contextmanager
    def _parent_dir(self, parts: list[str], create: bool) -> Iterator[int]:
        """A descriptor of the directory holding ``parts[-1]``."""
        fd = self._walk(parts[:-1], create)
        try:
            yield fd
        finally:
            os.close(fd)

    def _open_child_dir(self, dir_fd: int, name: str, create: bool) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if not create:
                raise
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UserError(
                    f"{name!r} is not a directory inside the workspace (or was replaced by a "
                    f"symlink while in use)."
                ) from None
            raise
        os.mkdir(name, 0o755, dir_fd=dir_fd)
        self._chown(name, dir_fd)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)

    def _chown(self, name: str, dir_fd: int) -> None:
        if self.owner is not None:
            os.chown(name, *self.owner, dir_fd=dir_fd, follow_symlinks=False)

    # --- operations -------------------------------------------------------------------

    def stat(self, path: PurePosixPath) -> EntryInfo:
        parts = self.resolve(path)
        if not parts:
            return EntryInfo(name=".", kind="dir", size=0)
        try:
            with self._parent_dir(parts, create=False) as parent:
                info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return EntryInfo(name=parts[-1], kind="missing", size=0)
        return EntryInfo(name=parts[-1], kind=_kind(info.st_mode), size=info.st_size)

    def open_file(self, path: PurePosixPath) -> int:
        """A read-only descriptor of a regular file (never blocks on a FIFO)."""
        parts = self.resolve(path)
        if not parts:
            raise UserError("The workspace root is a directory; give a file path.")
        with self._parent_dir(parts, create=False) as parent:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(parts[-1], flags, dir_fd=parent)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise UserError(f"{display(path)!r} is not a regular file.")
        return fd

    def list_dir(self, path: PurePosixPath, limit: int) -> list[EntryInfo]:
        fd = self._walk(self.resolve(path), create=False)
        entries: list[EntryInfo] = []
        try:
            with os.scandir(fd) as scan:
                for entry in scan:
                    info = entry.stat(follow_symlinks=False)
                    kind: EntryKind = "other" if entry.is_symlink() else _kind(info.st_mode)
                    entries.append(EntryInfo(name=entry.name, kind=kind, size=info.st_size))
                    if len(entries) >= limit:
                        break
        finally:
            os.close(fd)
        return sorted(entries, key=lambda e: (e.kind != "dir", e.name))

    def write(self, path: PurePosixPath, data: bytes) -> None:
        parts = self.resolve(path)
        if not parts:
            raise UserError("The workspace root is a directory; give a file path to write.")
        with self._parent_dir(parts, create=True) as parent:
            # Non-blocking: opening a FIFO planted by sandbox code would otherwise wait for a
            # reader forever. O_TRUNC only after the file is known to be a regular one.
            flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            try:
                fd = os.open(parts[-1], flags, 0o644, dir_fd=parent)
            except IsADirectoryError:
                raise UserError(f"{display(path)!r} is a directory.") from None
            except OSError as exc:  # ENXIO: a FIFO nobody reads; ELOOP: a symlink
                raise UserError(f"{display(path)!r} cannot be written: {exc.strerror}.") from None
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise UserError(f"{display(path)!r} is not a regular file.")
                os.set_blocking(fd, True)
                os.ftruncate(fd, 0)
                if self.owner is not None:
                    os.fchown(fd, *self.owner)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)

    def deliver(self, source: Path, path: PurePosixPath) -> None:
        """Move ``source`` (on the same filesystem) to ``path`` in the workspace."""
        parts = self.resolve(path)
        with self._parent_dir(parts, create=True) as parent:
            try:
                # rename(2) replaces a symlink at the destination rather than following it.
                os.replace(source, parts[-1], dst_dir_fd=parent)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                self._copy_in(source, parts[-1], parent)  # a workspace with its own filesystem
                source.unlink()
            self._chown(parts[-1], parent)

    @staticmethod
    def _copy_in(source: Path, name: str, parent: int) -> None:
        # A fresh file renamed over the name: whatever sandbox code left there (a FIFO that
        # would block the copy, a symlink) is replaced, never opened.
        tmp = f".mlintern-{os.urandom(6).hex()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with open(source, "rb") as reader:
            fd = os.open(tmp, flags, 0o644, dir_fd=parent)
            try:
                with open(fd, "wb") as writer:
                    shutil.copyfileobj(reader, writer, 1 << 20)
                os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
            except OSError:  # a full workspace: no half-copied file left in it
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=parent)
                raise
