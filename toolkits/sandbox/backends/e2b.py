"""The E2B backend: each sandbox is an E2B cloud microVM (e2b-code-interpreter's AsyncSandbox).

The VM is the isolation boundary, so commands run as E2B's default user in /home/user. Our
idle timeout is handed to E2B as the sandbox timeout and pushed forward on every use, so E2B
itself ends a sandbox we stopped using, even while this server is down. E2B_API_KEY goes to
E2B only (as the SDK's api_key), never into the sandbox's environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from server.errors import MissingCredentialError, UserError
from server.settings import Settings
from toolkits.sandbox.backends.base import (
    EntryInfo,
    EntryKind,
    ExecOutcome,
    ExecRequest,
    Provisioned,
    SandboxRef,
    SandboxSpec,
    decode_exit_status,
)
from toolkits.sandbox.output import OutputCapture

if TYPE_CHECKING:
    # Created as e2b_code_interpreter.AsyncSandbox (its template ships Python and the usual
    # data science packages); only the base class's commands/files API is used.
    from e2b import AsyncSandbox, FileType

WORKSPACE = "/home/user"
MAX_READ_BYTES = 64 * 1024 * 1024
# The SDK's own stream deadline sits past ours, so our timeout decides and kills the command.
STREAM_GRACE_S = 30


class MemoryReader:
    def __init__(self, data: bytes):
        self._data = data
        self.size = len(data)

    async def read(self, start: int, length: int) -> bytes:
        return self._data[start : start + length]

    async def close(self) -> None:
        self._data = b""


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    """E2B SDK errors as errors a caller can act on."""
    from e2b.exceptions import (
        AuthenticationException,
        NotFoundException,
        RateLimitException,
        SandboxException,
    )
    from e2b.sandbox.commands.command_handle import CommandExitException

    try:
        yield
    except AuthenticationException:
        raise UserError(
            f"E2B rejected E2B_API_KEY while trying to {action}. Check the key at "
            f"https://e2b.dev/dashboard and export it again."
        ) from None
    except RateLimitException:
        raise UserError(f"E2B rate-limited us while trying to {action}; wait and retry.") from None
    except (NotFoundException, CommandExitException):
        raise  # the caller's to interpret
    except SandboxException as exc:
        raise UserError(f"E2B could not {action}: {exc}") from None


def _kind(file_type: FileType | None) -> EntryKind:
    from e2b import FileType

    if file_type == FileType.FILE:
        return "file"
    return "dir" if file_type == FileType.DIR else "other"


def _gone(sandbox: SandboxRef) -> UserError:
    return UserError(
        f"The E2B sandbox behind {sandbox.sandbox_id} is gone (E2B ends sandboxes after their "
        f"timeout). Destroy it with sandbox_destroy and create a new one."
    )


def _remote_path(path: PurePosixPath) -> str:
    return WORKSPACE if path == PurePosixPath(".") else f"{WORKSPACE}/{path.as_posix()}"


def _shell_command(sandbox: SandboxRef, request: ExecRequest) -> str:
    # The VM is shared by every command of the sandbox, so the per-exec limits are rlimits set
    # by the shell before the command runs (hard and soft: the command cannot raise them).
    limits = f"ulimit -v {sandbox.memory_mb * 1024} -t {sandbox.cpu_s} 2>/dev/null; "
    if request.language == "python":
        return limits + f"exec python3 -c {shlex.quote(request.command)}"
    return limits + request.command


class E2BBackend:
    name = "e2b"

    def __init__(self, settings: Settings):
        self.settings = settings
        self._connected: dict[str, AsyncSandbox] = {}

    def _options(self) -> dict[str, Any]:
        key = self.settings.e2b_api_key
        if key is None or not key.get_secret_value():
            raise MissingCredentialError("E2B_API_KEY", "the e2b sandbox backend")
        options: dict[str, Any] = {
            "api_key": key.get_secret_value(),
            "request_timeout": self.settings.http_timeout_s,
        }
        if self.settings.e2b_api_url:
            options["api_url"] = self.settings.e2b_api_url
        if self.settings.e2b_sandbox_url:
            options["sandbox_url"] = self.settings.e2b_sandbox_url
        return options

    async def _sandbox(self, sandbox: SandboxRef) -> AsyncSandbox:
        from e2b.exceptions import NotFoundException
        from e2b_code_interpreter import AsyncSandbox

        remote_id = sandbox.state["remote_id"]
        if remote_id in self._connected:
            return self._connected[remote_id]
        try:
            with _translated("reconnect to the sandbox"):
                connected = await AsyncSandbox.connect(
                    remote_id, timeout=sandbox.idle_timeout_s, **self._options()
                )
        except NotFoundException:
            raise _gone(sandbox) from None
        self._connected[remote_id] = connected
        return connected

    # --- lifecycle ----------------------------------------------------------------------

    async def provision(self, spec: SandboxSpec, files: dict[PurePosixPath, bytes]) -> Provisioned:
        from e2b_code_interpreter import AsyncSandbox

        options = self._options()
        with _translated("create a sandbox"):
            created = await AsyncSandbox.create(
                timeout=spec.idle_timeout_s,
                metadata={"mlintern_sandbox_id": spec.sandbox_id},
                allow_internet_access=spec.network,
                **options,
            )
        self._connected[created.sandbox_id] = created
        try:
            with _translated("write the initial files"):
                for path, data in files.items():
                    await created.files.write(_remote_path(path), data)
        except BaseException:
            with contextlib.suppress(Exception):
                await created.kill()
            raise
        return Provisioned(
            workspace=WORKSPACE,
            isolation="e2b-microvm",
            state={"remote_id": created.sandbox_id},
            python="python3",
        )

    async def keep_alive(self, sandbox: SandboxRef) -> None:
        was_connected = sandbox.state["remote_id"] in self._connected
        connected = await self._sandbox(sandbox)
        if was_connected:  # connect() already pushed the expiry out
            from e2b.exceptions import NotFoundException

            try:
                with _translated("extend the sandbox's timeout"):
                    await connected.set_timeout(sandbox.idle_timeout_s)
            except NotFoundException:
                del self._connected[sandbox.state["remote_id"]]
                raise _gone(sandbox) from None

    async def destroy(self, sandbox: SandboxRef) -> None:
        from e2b.exceptions import NotFoundException
        from e2b_code_interpreter import AsyncSandbox

        remote_id = sandbox.state.get("remote_id")
        self._connected.pop(remote_id or "", None)
        if remote_id:
            with contextlib.suppress(NotFoundException), _translated("destroy the sandbox"):
                await AsyncSandbox.kill(remote_id, **self._options())

    # --- exec ---------------------------------------------------------------------------

    async def exec(
        self,
        sandbox: SandboxRef,
        request: ExecRequest,
        stdout: OutputCapture,
        stderr: OutputCapture,
    ) -> ExecOutcome:
        from e2b.exceptions import NotFoundException
        from e2b.sandbox.commands.command_handle import CommandExitException

        connected = await self._sandbox(sandbox)
        started = time.monotonic()
        with _translated("start the command"):
            handle = await connected.commands.run(
                _shell_command(sandbox, request),
                background=True,
                envs=request.env,
                cwd=WORKSPACE,
                on_stdout=lambda text: stdout.feed(text.encode()),
                on_stderr=lambda text: stderr.feed(text.encode()),
                stdin=request.stdin is not None,
                timeout=request.timeout_s + STREAM_GRACE_S,
                retain_output=False,
            )
        timed_out = False
        exit_code: int | None = None
        finished = False
        try:
            if request.stdin is not None:
                # A command that ends without reading its input is not an error.
                with contextlib.suppress(NotFoundException), _translated("send standard input"):
                    await handle.send_stdin(request.stdin)
                    await handle.close_stdin()
            try:
                with _translated("run the command"):
                    result = await asyncio.wait_for(handle.wait(), request.timeout_s)
                exit_code = result.exit_code
            except CommandExitException as exc:
                exit_code = exc.exit_code
            except TimeoutError:
                timed_out = True
            finished = not timed_out
        finally:
            if not finished:  # timeout or cancellation: the command must not live on
                with contextlib.suppress(Exception):
                    await handle.kill()
        code, sig = decode_exit_status(exit_code)
        if timed_out:
            code, sig = None, 9
        return ExecOutcome(
            exit_code=code,
            signal=sig,
            timed_out=timed_out,
            duration_s=time.monotonic() - started,
            isolation="e2b-microvm",
        )

    # --- files --------------------------------------------------------------------------

    async def stat(self, sandbox: SandboxRef, path: PurePosixPath) -> EntryInfo:
        from e2b.exceptions import NotFoundException

        connected = await self._sandbox(sandbox)
        try:
            with _translated("inspect the file"):
                info = await connected.files.get_info(_remote_path(path))
        except NotFoundException:
            return EntryInfo(name=path.name, kind="missing", size=0)
        return EntryInfo(name=info.name, kind=_kind(info.type), size=info.size)

    async def open_reader(self, sandbox: SandboxRef, path: PurePosixPath) -> MemoryReader:
        entry = await self.stat(sandbox, path)
        if entry.size > MAX_READ_BYTES:
            raise UserError(
                f"{path} is {entry.size} bytes, more than sandbox_files reads from E2B "
                f"({MAX_READ_BYTES // 2**20} MiB); look at parts of it with sandbox_exec "
                f"(head, tail, sed -n)."
            )
        connected = await self._sandbox(sandbox)
        with _translated("read the file"):
            data = await connected.files.read(_remote_path(path), format="bytes")
        return MemoryReader(bytes(data))

    async def list_dir(self, sandbox: SandboxRef, path: PurePosixPath) -> list[EntryInfo]:
        connected = await self._sandbox(sandbox)
        with _translated("list the directory"):
            entries = await connected.files.list(_remote_path(path), depth=1)
        listed = [EntryInfo(name=e.name, kind=_kind(e.type), size=e.size) for e in entries]
        return sorted(listed, key=lambda e: (e.kind != "dir", e.name))

    async def write_file(self, sandbox: SandboxRef, path: PurePosixPath, data: bytes) -> None:
        connected = await self._sandbox(sandbox)
        with _translated("write the file"):
            await connected.files.write(_remote_path(path), data)

    async def deliver_file(self, sandbox: SandboxRef, source: Path, path: PurePosixPath) -> None:
        connected = await self._sandbox(sandbox)
        try:
            with _translated("save the full output"), source.open("rb") as handle:
                await connected.files.write(_remote_path(path), handle)
        finally:
            await asyncio.to_thread(source.unlink, missing_ok=True)


def create(settings: Settings) -> E2BBackend:
    return E2BBackend(settings)
