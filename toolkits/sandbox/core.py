"""Sandboxes: create, run code in, read/write/edit files of, list and destroy. No MCP here.

``SandboxService`` owns ids, persistence, idle reaping and everything shared by the backends;
each backend (``backends/``) only provisions, executes and moves bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from server.errors import NotFoundError, UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox import execution, files
from toolkits.sandbox.backends import BackendName, load_backend
from toolkits.sandbox.backends.base import ExecRequest, SandboxBackend, SandboxSpec
from toolkits.sandbox.backends.limits import FILE_MB
from toolkits.sandbox.models import (
    DestroyResult,
    EditResult,
    ExecResult,
    FileView,
    Limits,
    SandboxInfo,
    SandboxList,
    StreamOutput,
    WriteResult,
)
from toolkits.sandbox.output import OutputCapture
from toolkits.sandbox.paths import display, workspace_relative
from toolkits.sandbox.records import SandboxRecord, SandboxRecords

log = logging.getLogger(__name__)

SANDBOX_ID = re.compile(r"^sbx-[0-9a-f]{12}$")
MAX_ACTIVE = 32
MAX_CREATE_BYTES = 20 * 1024 * 1024
SAVED_OUTPUT_DIR = PurePosixPath(".mlintern/exec")


def workspace_path(settings: Settings, sandbox_id: str) -> Path:
    """Where a local sandbox's workspace lives (the jobs toolkit runs jobs there)."""
    return settings.home / "sandboxes" / sandbox_id / "workspace"


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp or 0).strftime("%Y-%m-%d %H:%M:%S")


class SandboxService:
    def __init__(self, settings: Settings, store: StateStore):
        self.settings = settings
        self.records = SandboxRecords(store)
        self._backends: dict[str, SandboxBackend] = {}
        self._busy: dict[str, int] = {}

    def backend(self, name: str) -> SandboxBackend:
        """The sandbox backend called ``name``. Raises UserError for an unknown or unusable one."""
        if name not in self._backends:
            self._backends[name] = load_backend(name, self.settings)
        return self._backends[name]

    # --- lookup ---------------------------------------------------------------------------

    async def _known_ids(self) -> str:
        active = await asyncio.to_thread(self.records.active, 10)
        return ", ".join(r.sandbox_id for r in active) or "none"

    async def _record(self, sandbox_id: str, claim: bool = False) -> SandboxRecord:
        if not SANDBOX_ID.match(sandbox_id):
            raise UserError(
                f"{sandbox_id!r} is not a sandbox id (they look like sbx-1a2b3c4d5e6f). "
                f"List yours with sandbox_list."
            )
        if claim:
            record = await asyncio.to_thread(self.records.claim, sandbox_id, time.time())
        else:
            record = await asyncio.to_thread(self.records.get, sandbox_id)
        if record is None:
            raise NotFoundError(
                f"No sandbox {sandbox_id}. Active sandboxes: {await self._known_ids()}. "
                f"Create one with sandbox_create."
            )
        return record

    async def _active(self, sandbox_id: str) -> SandboxRecord:
        """The sandbox, touched; reaped instead when it sat idle past its timeout."""
        record = await self._record(sandbox_id, claim=True)
        if record.status == "active" and record.idle_deadline < time.time():
            if not self._busy.get(sandbox_id):
                await self._end(record, f"reaped after {record.idle_timeout_s}s idle")
                record = await self._record(sandbox_id)
        if record.status != "active":
            raise NotFoundError(
                f"Sandbox {sandbox_id} no longer exists: {record.end_reason} at "
                f"{_when(record.ended_at)}; its files are gone. Create a new one with "
                f"sandbox_create."
            )
        return record

    @contextlib.asynccontextmanager
    async def _using(self, sandbox_id: str) -> AsyncIterator[SandboxRecord]:
        """An active sandbox, marked busy (never reaped) and touched before and after use."""
        record = await self._active(sandbox_id)
        self._busy[sandbox_id] = self._busy.get(sandbox_id, 0) + 1
        try:
            await self.backend(record.backend).keep_alive(record.ref())
            yield record
        finally:
            self._busy[sandbox_id] -= 1
            await asyncio.to_thread(self.records.touch, sandbox_id)

    # --- lifecycle ------------------------------------------------------------------------

    async def create(
        self,
        *,
        backend: BackendName = "local",
        network: bool = False,
        idle_timeout_s: int = 1800,
        memory_mb: int = 4096,
        cpu_s: int = 600,
        files: dict[str, str] | None = None,
    ) -> SandboxInfo:
        """Provision a sandbox; UserError when too many are active or isolation is missing."""
        await self.reap_idle()
        initial = self._initial_files(files or {})
        if await asyncio.to_thread(self.records.count_active) >= MAX_ACTIVE:
            raise UserError(
                f"{MAX_ACTIVE} sandboxes are already active. Destroy ones you no longer need "
                f"with sandbox_destroy (see sandbox_list)."
            )
        sandbox_id = f"sbx-{secrets.token_hex(6)}"
        spec = SandboxSpec(sandbox_id, network, idle_timeout_s, memory_mb, cpu_s)
        provisioned = await self.backend(backend).provision(spec, initial)
        now = time.time()
        record = SandboxRecord(
            sandbox_id=sandbox_id,
            backend=backend,
            status="active",
            isolation=provisioned.isolation,
            network=network,
            idle_timeout_s=idle_timeout_s,
            memory_mb=memory_mb,
            cpu_s=cpu_s,
            workspace=provisioned.workspace,
            created_at=now,
            last_used_at=now,
            backend_state=provisioned.state,
            limits=provisioned.limits,
        )
        try:
            await asyncio.to_thread(self.records.insert, record)
        except BaseException:
            await self.backend(backend).destroy(record.ref())
            raise
        info = self._info(record)
        info.python = provisioned.python
        info.warnings = provisioned.warnings
        info.files_written = [display(path) for path in initial]
        return info

    @staticmethod
    def _initial_files(files: dict[str, str]) -> dict[PurePosixPath, bytes]:
        initial: dict[PurePosixPath, bytes] = {}
        for name, content in files.items():
            path = workspace_relative(name, workspace=None)
            if path == PurePosixPath("."):
                raise UserError(f"{name!r} names the workspace itself; give a file path.")
            initial[path] = content.encode()
        if sum(len(data) for data in initial.values()) > MAX_CREATE_BYTES:
            raise UserError(
                f"`files` holds more than {MAX_CREATE_BYTES // 2**20} MiB; write large files "
                f"with sandbox_files(op='write') or fetch them from inside the sandbox."
            )
        return initial

    def _info(self, record: SandboxRecord) -> SandboxInfo:
        extra = record.limits
        return SandboxInfo(
            sandbox_id=record.sandbox_id,
            backend=record.backend,
            status="active" if record.status == "active" else "destroyed",
            isolation=record.isolation,
            network=_network_label(record),
            workspace=record.workspace,
            limits=Limits(
                memory_mb=record.memory_mb,
                cpu_s=record.cpu_s,
                idle_timeout_s=record.idle_timeout_s,
                network=record.network,
                max_file_mb=extra.get("max_file_mb"),
                max_open_files=extra.get("max_open_files"),
                max_processes=extra.get("max_processes"),
                memory_per_sandbox=bool(extra["memory_per_sandbox"])
                if "memory_per_sandbox" in extra
                else None,
                disk_quota_mb=extra.get("disk_quota_mb"),
                max_files=extra.get("max_files"),
            ),
            created_at=record.created_at,
            last_used_at=record.last_used_at,
            idle_expires_at=record.idle_deadline if record.status == "active" else None,
            end_reason=record.end_reason,
        )

    async def list(self, limit: int = 50, include_destroyed: bool = False) -> SandboxList:
        """Recent sandboxes (active ones first), optionally with the destroyed ones."""
        await self.reap_idle()
        fetch = self.records.recent if include_destroyed else self.records.active
        rows = await asyncio.to_thread(fetch, limit + 1)
        active = await asyncio.to_thread(self.records.count_active)
        return SandboxList(
            sandboxes=[self._info(row) for row in rows[:limit]],
            active_count=active,
            truncated=len(rows) > limit,
            hint=f"Only the newest {limit} are shown." if len(rows) > limit else None,
        )

    async def destroy(self, sandbox_id: str) -> DestroyResult:
        """Stop a sandbox's processes and delete its workspace; NotFoundError if unknown."""
        record = await self._record(sandbox_id)
        if record.status != "active":
            return DestroyResult(
                sandbox_id=sandbox_id,
                destroyed=False,
                already_destroyed=True,
                end_reason=record.end_reason,
            )
        await self._end(record, "destroyed by sandbox_destroy")
        return DestroyResult(sandbox_id=sandbox_id, destroyed=True)

    async def _end(self, record: SandboxRecord, reason: str) -> None:
        await self.backend(record.backend).destroy(record.ref())
        await asyncio.to_thread(self.records.mark_destroyed, record.sandbox_id, reason)
        if record.backend != "local":  # the local backend removed this directory itself
            spill = self.settings.home / "sandboxes" / record.sandbox_id
            await asyncio.to_thread(shutil.rmtree, spill, ignore_errors=True)

    async def reap_idle(self) -> list[str]:
        """Destroy every sandbox left unused past its idle timeout (those in use are spared)."""
        reaped = []
        for record in await asyncio.to_thread(self.records.expired, time.time()):
            if self._busy.get(record.sandbox_id):
                continue
            try:
                await self._end(record, f"reaped after {record.idle_timeout_s}s idle")
            except UserError as exc:  # e.g. E2B credentials gone: E2B expires it on its own
                log.warning("reaping %s: %s", record.sandbox_id, exc)
                await asyncio.to_thread(
                    self.records.mark_destroyed, record.sandbox_id, "expired (idle)"
                )
            reaped.append(record.sandbox_id)
        return reaped

    # --- exec -----------------------------------------------------------------------------

    async def exec(
        self,
        sandbox_id: str,
        command: str,
        *,
        language: str = "bash",
        timeout_s: float = 120,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        progress: execution.Progress | None = None,
    ) -> ExecResult:
        """Run bash or python in the sandbox, bounded; NotFoundError for an unknown sandbox."""
        request = ExecRequest(
            command=command,
            language="python" if language == "python" else "bash",
            timeout_s=timeout_s,
            stdin=stdin.encode() if stdin is not None else None,
            env=execution.check_env(env or {}),
        )
        async with self._using(sandbox_id) as record:
            backend = self.backend(record.backend)
            stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
            spill_dir = self.settings.home / "sandboxes" / sandbox_id / "spill"
            share = self.settings.max_output_chars // 5  # stdout 2/5, stderr 1/5 of the budget
            captures = {
                name: OutputCapture(share * parts, spill_dir / f"{stamp}-{name}.log", FILE_MB << 20)
                for name, parts in (("stdout", 2), ("stderr", 1))
            }
            stdout, stderr = captures["stdout"], captures["stderr"]
            try:
                async with execution.progress_ticker(progress, timeout_s, stdout, stderr):
                    outcome = await backend.exec(record.ref(), request, stdout, stderr)
            except BaseException:
                for capture in captures.values():  # no half-written spill files left behind
                    if (spilled := capture.finish()) is not None:
                        await asyncio.to_thread(spilled.unlink, missing_ok=True)
                raise
            views = {
                name: await self._save_output(backend, record, capture, f"{stamp}-{name}.log")
                for name, capture in captures.items()
            }
        stderr_tail = stderr.text()[-4000:]
        reason = execution.kill_reason(outcome, stderr_tail)
        limits = f"memory_mb={record.memory_mb}, cpu_s={record.cpu_s}"
        if record.limits.get("max_processes"):
            limits += f", max_processes={record.limits['max_processes']}"
        hints = execution.advice(reason, outcome, timeout_s, limits, stderr_tail)
        hints += [
            execution.saved_hint(sandbox_id, name, views[name], captures[name])
            for name in ("stdout", "stderr")
            if views[name].truncated
        ]
        return ExecResult(
            sandbox_id=sandbox_id,
            exit_code=outcome.exit_code,
            signal=execution.signal_name(outcome.signal),
            killed=reason is not None,
            killed_reason=reason,
            duration_s=round(outcome.duration_s, 3),
            isolation=outcome.isolation,
            stdout=views["stdout"],
            stderr=views["stderr"],
            notes=outcome.notes,
            hint=" ".join(hint for hint in hints if hint) or None,
        )

    async def _save_output(
        self, backend: SandboxBackend, record: SandboxRecord, capture: OutputCapture, name: str
    ) -> StreamOutput:
        """Move a stream's spilled full text into the workspace, and describe the stream."""
        spilled = capture.finish()
        if spilled is None:
            return execution.stream_view(capture, None)
        destination = SAVED_OUTPUT_DIR / name
        try:
            await backend.deliver_file(record.ref(), spilled, destination)
        except (OSError, UserError) as exc:
            capture.spill_error = f"could not save it to the workspace: {exc}"
            await asyncio.to_thread(spilled.unlink, missing_ok=True)
            return execution.stream_view(capture, None)
        return execution.stream_view(capture, display(destination))

    # --- files (the work is in files.py) ---------------------------------------------------

    async def read(
        self, sandbox_id: str, path: str = ".", offset: int = 1, limit: int = 400
    ) -> FileView:
        """A numbered window of a workspace text file; UserError for paths leaving it."""
        async with self._using(sandbox_id) as record:
            target = files.Target(self.backend(record.backend), record, path)
            budget = self.settings.max_output_chars * 4 // 5
            return await files.read(target, offset=offset, limit=limit, max_chars=budget)

    async def write(self, sandbox_id: str, path: str, content: str) -> WriteResult:
        """Write a workspace file atomically; UserError for paths leaving it or the quota."""
        async with self._using(sandbox_id) as record:
            target = files.Target(self.backend(record.backend), record, path)
            return await files.write(target, content)

    async def edit(
        self, sandbox_id: str, path: str, old: str, new: str, replace_all: bool = False
    ) -> EditResult:
        """Replace ``old`` by ``new`` in a workspace file; UserError if missing or ambiguous."""
        async with self._using(sandbox_id) as record:
            target = files.Target(self.backend(record.backend), record, path)
            return await files.edit(target, old, new, replace_all)


def _network_label(record: SandboxRecord) -> Literal["none", "user", "host", "e2b"]:
    if not record.network:
        return "none"
    if record.backend == "e2b":
        return "e2b"
    # Local sandboxes from before user-mode networking kept the host's network.
    return "user" if record.backend_state.get("network") == "user" else "host"
