"""The one place that decides which local paths a tool may read or write.

The model calling a tool is untrusted (it reads Hub cards, papers and job logs anyone can write),
so a path it names is honoured only when, after every symlink is followed, it lands inside an
allowed root:

- the sandbox and job workspaces under MLINTERN_HOME (the rest of MLINTERN_HOME, with the state
  database, caches and sessions, never);
- the directories the operator lists (``MLINTERN_ROOTS``, ``mlintern-server --root DIR``);
- the roots the MCP client offers (handshake-era clients that declare the roots capability);
- the server's working directory, unless that is ``/`` or the user's home.

Well-known credential files stay refused even inside a root. Opens are race-free: the file is
opened without following a final symlink and without blocking (a FIFO cannot stall a worker),
then the opened file itself is checked (a regular file, and /proc/self/fd says it is the path
that was vetted), so swapping a component for a symlink between check and open gains nothing.
Writes go to a fresh file created next to the target through a directory fd and are renamed
over it, so a planted symlink at the target name is replaced, never followed.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import logging
import os
import stat
import time
import warnings
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from server.errors import UserError
from server.settings import Settings

log = logging.getLogger(__name__)

# The roots of the tool call in progress (server/toolkit.py sets them, client roots included).
_current: contextvars.ContextVar[Roots | None] = contextvars.ContextVar("roots", default=None)

# Directories and files that hold credentials, matched on any path component (dirs) or name.
_CREDENTIAL_DIRS = {".ssh", ".aws", ".gnupg", ".kube", ".azure", ".docker", ".password-store"}
_CREDENTIAL_NAMES = (
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    "kaggle.json",
    ".env",
    ".env.*",
    "*.env",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "application_default_credentials.json",
    "credentials.db",
    "access_tokens.db",
    "hosts.yml",
)
# (parent directory name, file name): tokens whose file name alone is too common to refuse.
_CREDENTIAL_PAIRS = {
    ("huggingface", "token"),
    ("huggingface", "stored_tokens"),
    ("gh", "hosts.yml"),
}
_WORKSPACES = ("sandboxes", "jobs")


class PathRefused(UserError):
    """A path outside every root, a credential file, or not a regular file."""


def is_credential(path: Path) -> bool:
    parts = path.parts
    if any(part in _CREDENTIAL_DIRS for part in parts[:-1]):
        return True
    name = path.name
    if any(fnmatch.fnmatch(name, pattern) for pattern in _CREDENTIAL_NAMES):
        return True
    return len(parts) >= 2 and (parts[-2], name) in _CREDENTIAL_PAIRS


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class Roots:
    allowed: tuple[Path, ...]
    home: Path  # MLINTERN_HOME: private except for its workspaces
    workspaces: tuple[Path, ...]

    @classmethod
    def for_settings(cls, settings: Settings, offered: Sequence[Path] = ()) -> Roots:
        home = _real(settings.home)
        workspaces = tuple(home / name for name in _WORKSPACES)
        allowed = [*workspaces, *(_real(Path(p).expanduser()) for p in settings.roots)]
        allowed += offered
        cwd = _real(Path.cwd())
        if cwd != Path("/") and cwd != _real(Path.home()):
            allowed.append(cwd)
        return cls(tuple(dict.fromkeys(allowed)), home, workspaces)

    # --- vetting ------------------------------------------------------------------------
    def describe(self) -> str:
        listed = ", ".join(str(r) for r in self.allowed if not _within(r, self.home))
        return (
            f"Allowed roots: the sandbox and job workspaces{', ' + listed if listed else ''}. "
            "The operator can add a directory with `mlintern-server --root DIR` or "
            "MLINTERN_ROOTS=dir1,dir2 (or the MCP client's roots)."
        )

    def check(self, path: str | os.PathLike[str], *, what: str = "path") -> Path:
        """The real path of ``path`` if a tool may use it; PathRefused otherwise."""
        given = Path(path).expanduser()
        real = _real(given if given.is_absolute() else Path.cwd() / given)
        if not any(_within(real, root) for root in self.allowed):
            raise PathRefused(f"The {what} {path} is outside the allowed roots. {self.describe()}")
        if _within(real, self.home) and not any(_within(real, w) for w in self.workspaces):
            raise PathRefused(
                f"The {what} {path} is inside mlintern's own state directory, which tools may "
                "not read or write (only its sandbox and job workspaces)."
            )
        if is_credential(real):
            raise PathRefused(
                f"The {what} {path} is a credential file ({real.name}); tools never read or "
                "write those, even inside an allowed root."
            )
        return real

    def readable(self, path: Path) -> bool:
        """Whether a file found in a vetted folder may be read: a regular file, no credential,
        and if it is a symlink, one that stays inside the roots."""
        if path.is_symlink() and not self.allows(path):
            return False
        return not is_credential(path) and _is_regular(path)

    def allows(self, path: str | os.PathLike[str]) -> bool:
        try:
            self.check(path)
        except PathRefused:
            return False
        return True

    # --- race-free access ---------------------------------------------------------------
    def open_fd(self, path: str | os.PathLike[str], *, what: str = "file") -> int:
        """An fd open for reading on the vetted regular file ``path`` (the caller closes it)."""
        real = self.check(path, what=what)
        fd = open_regular(real, shown=str(path))
        try:
            if Path(os.readlink(f"/proc/self/fd/{fd}")) != real:
                raise PathRefused(f"{path} changed while it was being opened; try again.")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def pin(self, path: str | os.PathLike[str], stack: contextlib.ExitStack) -> Path:
        """A /proc/self/fd path to the vetted file, open until ``stack`` closes.

        For readers that take a path (DuckDB, pyarrow): the path names the file that was
        vetted, whatever happens to the original name afterwards.
        """
        fd = self.open_fd(path)
        stack.callback(os.close, fd)
        return Path(f"/proc/self/fd/{fd}")

    def read_bytes(self, path: str | os.PathLike[str], *, limit: int, what: str = "file") -> bytes:
        fd = self.open_fd(path, what=what)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise PathRefused(f"The {what} {path} is over {limit:,} bytes.")
        return data

    def read_text(self, path: str | os.PathLike[str], *, limit: int, what: str = "file") -> str:
        return self.read_bytes(path, limit=limit, what=what).decode("utf-8", errors="replace")

    def write_atomic(
        self, path: str | os.PathLike[str], data: bytes, *, what: str = "file"
    ) -> Path:
        """Write ``data`` as ``path``: a new file renamed into place, never through a symlink."""
        target = Path(path).expanduser()
        parent = self.check(target.parent, what=f"{what}'s folder")
        real = parent / target.name  # the name itself is replaced, never followed
        if is_credential(real):
            raise PathRefused(f"The {what} {path} is a credential file; tools never write those.")
        write_in_folder(parent, target.name, data, shown=str(path))
        return real

    def walk_files(self, folder: Path, *, max_files: int) -> Iterator[Path]:
        """Regular files under the vetted ``folder``; symlinks that leave the roots are skipped."""
        count = 0
        for directory, dirs, names in os.walk(folder):  # never descends into symlinked dirs
            dirs.sort()
            for name in sorted(names):
                path = Path(directory) / name
                if not self.readable(path):
                    continue  # FIFOs, sockets, devices could block a reader; links out, secrets
                count += 1
                if count > max_files:
                    return
                yield path


def paths_from_uris(uris: Sequence[str]) -> tuple[Path, ...]:
    """file:// root URIs (what MCP clients send) as real paths; other schemes are ignored."""
    from urllib.parse import unquote, urlparse

    found = []
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme == "file" and parsed.path:
            found.append(_real(Path(unquote(parsed.path))))
    return tuple(found)


def write_in_folder(parent: Path, name: str, data: bytes, *, shown: str) -> None:
    """Write ``data`` as ``parent/name`` (``parent`` a real path): a 0600 file written beside it
    and renamed into place, never through a symlink, so a reader never sees half of it."""
    dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if Path(os.readlink(f"/proc/self/fd/{dir_fd}")) != parent:
            raise PathRefused(f"The folder of {shown} changed while it was being opened.")
        tmp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
            dir_fd=dir_fd,
        )  # fmt: skip
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)


def open_regular(path: str | os.PathLike[str], *, shown: str | None = None) -> int:
    """An fd for reading ``path``, refusing a final symlink and anything but a regular file.

    Opened non-blocking, so a FIFO planted under a metrics or data file's name cannot stall the
    worker that reads it; blocking mode is restored once the file is known to be regular.
    """
    shown = shown or str(path)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise PathRefused(f"No such file: {shown}.") from None
    except OSError as exc:
        raise PathRefused(f"Cannot open {shown}: {exc.strerror}.") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PathRefused(
                f"{shown} is not a regular file (a FIFO, device, socket or directory): tools "
                "only read regular files."
            )
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def current() -> Roots:
    """The roots of the tool call in progress; outside one, those of the environment's settings."""
    roots = _current.get()
    return roots if roots is not None else Roots.for_settings(Settings())


@contextlib.contextmanager
def in_force(roots: Roots) -> Iterator[Roots]:
    """Make ``roots`` the current ones for the code inside (one tool call)."""
    token = _current.set(roots)
    try:
        yield roots
    finally:
        _current.reset(token)


_OFFERED_TTL_S = 30.0
_offered_cache: weakref.WeakKeyDictionary[Any, tuple[float, tuple[Path, ...]]] = (
    weakref.WeakKeyDictionary()
)


async def offered_roots() -> tuple[Path, ...]:
    """The roots the connected client offers, if it declared the capability (cached briefly).

    Only handshake-era clients can be asked (roots are deprecated as of 2026-07-28); a client
    that does not answer within two seconds simply offers none.
    """
    try:
        from fastmcp.server.dependencies import get_context

        session = get_context().session
        capabilities = session.client_params.capabilities  # type: ignore[union-attr]
    except Exception:
        return ()
    if not getattr(capabilities, "roots", None):
        return ()
    cached = _offered_cache.get(session)
    if cached and time.monotonic() - cached[0] < _OFFERED_TTL_S:
        return cached[1]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with anyio.fail_after(2.0):
                listed = await session.list_roots()  # type: ignore[union-attr]
        found = paths_from_uris([str(root.uri) for root in listed.roots])
    except Exception as exc:
        log.debug("client roots unavailable: %s", exc)
        found = ()
    with contextlib.suppress(TypeError):
        _offered_cache[session] = (time.monotonic(), found)
    return found
