"""The one interface every sandbox backend implements.

A backend knows how to provision a workspace, run one command in it under limits, move bytes
in and out of it, and tear it down. Everything else (ids, persistence, idle reaping, paging,
edits, kill reasons) lives in ``toolkits.sandbox.core`` and is shared by all backends.
Adding a backend = one module in this package + one line in ``BACKENDS`` (``__init__.py``).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

from toolkits.sandbox.output import OutputCapture

Isolation = Literal["bubblewrap", "rlimits-only", "e2b-microvm"]
EntryKind = Literal["file", "dir", "other", "missing"]


@dataclass(frozen=True)
class SandboxSpec:
    """What sandbox_create asked for."""

    sandbox_id: str
    network: bool
    idle_timeout_s: int
    memory_mb: int
    cpu_s: int


@dataclass(frozen=True)
class SandboxRef:
    """A provisioned sandbox as the backends see it (rebuilt from the state store)."""

    sandbox_id: str
    network: bool
    idle_timeout_s: int
    memory_mb: int
    cpu_s: int
    isolation: str
    workspace: str
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Provisioned:
    workspace: str = ""  # the workspace path as commands inside the sandbox see it
    isolation: Isolation = "rlimits-only"
    state: dict[str, Any] = field(default_factory=dict)  # persisted, handed back later
    limits: dict[str, int] = field(default_factory=dict)  # backend-specific extra limits
    python: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExecRequest:
    command: str
    language: Literal["bash", "python"]
    timeout_s: float
    stdin: bytes | None
    env: dict[str, str]


@dataclass
class ExecOutcome:
    exit_code: int | None
    signal: int | None  # the signal that ended the command, when one did
    timed_out: bool
    duration_s: float
    isolation: str
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EntryInfo:
    name: str
    kind: EntryKind
    size: int


class FileReader(Protocol):
    """Random access to one regular file of a sandbox, for paging without loading it whole."""

    size: int

    async def read(self, start: int, length: int) -> bytes: ...

    async def close(self) -> None: ...


class SandboxBackend(Protocol):
    name: str

    async def provision(self, spec: SandboxSpec, files: dict[PurePosixPath, bytes]) -> Provisioned:
        """Create the sandbox and its initial files; raise UserError if it cannot be made."""
        ...

    async def exec(
        self,
        sandbox: SandboxRef,
        request: ExecRequest,
        stdout: OutputCapture,
        stderr: OutputCapture,
    ) -> ExecOutcome:
        """Run one command to completion (or its timeout); nothing of it may keep running."""
        ...

    async def stat(self, sandbox: SandboxRef, path: PurePosixPath) -> EntryInfo: ...

    async def open_reader(self, sandbox: SandboxRef, path: PurePosixPath) -> FileReader: ...

    async def list_dir(self, sandbox: SandboxRef, path: PurePosixPath) -> list[EntryInfo]: ...

    async def write_file(self, sandbox: SandboxRef, path: PurePosixPath, data: bytes) -> None: ...

    async def deliver_file(self, sandbox: SandboxRef, source: Path, path: PurePosixPath) -> None:
        """Move a file the server wrote (a spilled output stream) into the workspace."""
        ...

    async def keep_alive(self, sandbox: SandboxRef) -> None:
        """Called on every use: a remote sandbox pushes its own expiry further out."""
        ...

    async def destroy(self, sandbox: SandboxRef) -> None:
        """Stop everything running in the sandbox and delete it; a no-op when already gone."""
        ...


def decode_exit_status(returncode: int | None) -> tuple[int | None, int | None]:
    """(exit code, signal) of a finished command.

    A negative code is a signal seen directly; shells and bubblewrap report death by signal N
    as 128 + N, which is read the same way (a command that itself exits 137 looks alike).
    """
    if returncode is None:
        return None, None
    if returncode < 0:
        return None, -returncode
    if 128 < returncode < 128 + signal.NSIG:
        return returncode, returncode - 128
    return returncode, None
