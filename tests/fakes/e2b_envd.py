"""Fake envd: the agent inside an E2B sandbox (process and filesystem RPCs, /files, /health).

Shaped after what e2b's SDK sends and parses (e2b/envd/*_connect.py, e2b/sandbox_async/...):
Connect RPC with the JSON codec for ``process.Process`` and ``filesystem.Filesystem``, and
plain HTTP for file transfers. Served by connectrpc's own generated ASGI applications, so the
wire format is the real one. Commands really run, as local subprocesses in a per-sandbox
directory that stands in for the VM's filesystem (``/home/user`` -> ``<root>/home/user``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from e2b.envd.filesystem import filesystem_pb
from e2b.envd.filesystem.filesystem_connect import Filesystem, FilesystemASGIApplication
from e2b.envd.process import process_pb
from e2b.envd.process.process_connect import Process, ProcessASGIApplication
from protobuf import Oneof

if TYPE_CHECKING:
    from fakes.e2b import FakeE2B, FakeSandbox

Event = process_pb.ProcessEvent


def _event(kind: Any, value: Any) -> process_pb.StartResponse:
    return process_pb.StartResponse(event=Event(event=Oneof(kind, value)))


class ProcessService(Process):
    # Methods the SDK never calls here stay the generated UNIMPLEMENTED ones.
    def __init__(self, fake: FakeE2B):
        self.fake = fake

    def _sandbox(self, ctx: Any) -> FakeSandbox:
        try:
            return self.fake.sandbox_for(dict(ctx.request_headers.items()))
        except PermissionError as exc:
            raise ConnectError(Code.UNAUTHENTICATED, str(exc)) from None
        except LookupError as exc:
            raise ConnectError(Code.NOT_FOUND, str(exc)) from None

    async def start(
        self, request: process_pb.StartRequest, ctx: Any
    ) -> AsyncIterator[process_pb.StartResponse]:
        sandbox = self._sandbox(ctx)
        config = request.process or process_pb.ProcessConfig()
        sandbox.commands.append(
            {
                "cmd": config.cmd,
                "args": list(config.args),
                "envs": dict(config.envs),
                "cwd": config.cwd,
            }
        )
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        env["HOME"] = str(sandbox.local("/home/user"))
        env.update(config.envs)
        proc = await asyncio.create_subprocess_exec(
            config.cmd,
            *config.args,
            cwd=sandbox.local(config.cwd or "/home/user"),
            env=env,
            stdin=asyncio.subprocess.PIPE if request.stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        sandbox.processes[proc.pid] = proc
        queue: asyncio.Queue[tuple[Any, bytes] | None] = asyncio.Queue()

        async def pump(stream: asyncio.StreamReader, name: Any) -> None:
            while chunk := await stream.read(32 * 1024):
                await queue.put((name, chunk))
            await queue.put(None)

        assert proc.stdout is not None and proc.stderr is not None
        pumps = [
            asyncio.create_task(pump(proc.stdout, "stdout")),
            asyncio.create_task(pump(proc.stderr, "stderr")),
        ]
        try:
            yield _event("start", Event.StartEvent(pid=proc.pid))
            open_streams = 2
            while open_streams:
                item = await queue.get()
                if item is None:
                    open_streams -= 1
                    continue
                name, chunk = item
                yield _event("data", Event.DataEvent(output=Oneof(name, chunk)))
            code = await proc.wait()
            status = f"exit status {code}" if code >= 0 else f"signal: {signal.Signals(-code).name}"
            yield _event(
                "end",
                Event.EndEvent(
                    exit_code=code if code >= 0 else -1, exited=code >= 0, status=status
                ),
            )
        finally:  # the client went away (or the stream ended): nothing keeps running
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            for task in pumps:
                task.cancel()
            sandbox.processes.pop(proc.pid, None)

    def _process(
        self, selector: process_pb.ProcessSelector | None, ctx: Any
    ) -> asyncio.subprocess.Process:
        sandbox = self._sandbox(ctx)
        pid = selector.selector.value if selector and selector.selector else None
        if pid not in sandbox.processes:
            raise ConnectError(Code.NOT_FOUND, f"process with pid {pid} not found")
        return sandbox.processes[pid]

    async def send_input(
        self, request: process_pb.SendInputRequest, ctx: Any
    ) -> process_pb.SendInputResponse:
        proc = self._process(request.process, ctx)
        if self.fake.input_arrives_late:
            # As when the command exits before its input gets there: envd no longer knows it.
            await proc.wait()
            raise ConnectError(Code.NOT_FOUND, f"process with pid {proc.pid} not found")
        if proc.stdin is not None and request.input is not None and request.input.input:
            proc.stdin.write(request.input.input.value)
            with contextlib.suppress(ConnectionError):
                await proc.stdin.drain()
        return process_pb.SendInputResponse()

    async def close_stdin(
        self, request: process_pb.CloseStdinRequest, ctx: Any
    ) -> process_pb.CloseStdinResponse:
        proc = self._process(request.process, ctx)
        if proc.stdin is not None:
            proc.stdin.close()
        return process_pb.CloseStdinResponse()

    async def send_signal(
        self, request: process_pb.SendSignalRequest, ctx: Any
    ) -> process_pb.SendSignalResponse:
        proc = self._process(request.process, ctx)
        self._sandbox(ctx).signals.append(request.signal.name if request.signal else "")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return process_pb.SendSignalResponse()


def _entry(path: str, local: Path) -> filesystem_pb.EntryInfo:
    info = local.stat()
    kind = filesystem_pb.FileType.DIRECTORY if local.is_dir() else filesystem_pb.FileType.FILE
    return filesystem_pb.EntryInfo(
        name=local.name,
        type=kind,
        path=path,
        size=info.st_size,
        mode=info.st_mode & 0o777,
        permissions=oct(info.st_mode & 0o777),
        owner="user",
        group="user",
    )


class FilesystemService(Filesystem):
    def __init__(self, fake: FakeE2B):
        self.fake = fake

    def _local(self, path: str, ctx: Any) -> Path:
        try:
            sandbox = self.fake.sandbox_for(dict(ctx.request_headers.items()))
        except (PermissionError, LookupError) as exc:
            raise ConnectError(Code.UNAUTHENTICATED, str(exc)) from None
        local = sandbox.local(path)
        if not local.exists():
            raise ConnectError(Code.NOT_FOUND, f"path '{path}' does not exist")
        return local

    async def stat(
        self, request: filesystem_pb.StatRequest, ctx: Any
    ) -> filesystem_pb.StatResponse:
        return filesystem_pb.StatResponse(
            entry=_entry(request.path, self._local(request.path, ctx))
        )

    async def list_dir(
        self, request: filesystem_pb.ListDirRequest, ctx: Any
    ) -> filesystem_pb.ListDirResponse:
        local = self._local(request.path, ctx)
        entries = [
            _entry(f"{request.path.rstrip('/')}/{child.name}", child)
            for child in sorted(local.iterdir())
        ]
        return filesystem_pb.ListDirResponse(entries=entries)


def rpc_apps(fake: FakeE2B) -> dict[str, Any]:
    """ASGI applications by path prefix."""
    return {
        "/process.Process/": ProcessASGIApplication(ProcessService(fake)),
        "/filesystem.Filesystem/": FilesystemASGIApplication(FilesystemService(fake)),
    }
