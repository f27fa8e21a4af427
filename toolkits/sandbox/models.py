"""What the sandbox functions return: plain pydantic models with a text rendering for a model."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, Field

KillReason = Literal["timeout", "memory", "cpu", "file_size", "signal"]


def _ago(timestamp: float) -> str:
    seconds = max(0, int(time.time() - timestamp))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


class Limits(BaseModel):
    memory_mb: int = Field(
        description="Memory limit in MiB: of all the sandbox's processes together where "
        "memory_per_sandbox, else of each process (address space)."
    )
    cpu_s: int = Field(description="CPU seconds each exec may use.")
    idle_timeout_s: int = Field(description="The sandbox is destroyed after this long unused.")
    network: bool = Field(description="Whether commands can reach the network.")
    max_file_mb: int | None = None
    max_open_files: int | None = None
    max_processes: int | None = None
    memory_per_sandbox: bool | None = Field(
        default=None, description="Whether memory_mb bounds the sandbox as a whole (cgroup)."
    )
    disk_quota_mb: int | None = Field(default=None, description="Disk space of the workspace.")
    max_files: int | None = Field(default=None, description="Files the workspace may hold.")


class SandboxInfo(BaseModel):
    sandbox_id: str
    backend: str
    status: Literal["active", "destroyed"]
    isolation: str = Field(
        description="bubblewrap (namespaces + rlimits), rlimits-only (no namespaces: weaker), "
        "or e2b-microvm (a remote VM)."
    )
    network: Literal["none", "user", "host", "e2b"] = Field(
        default="none",
        description="none: no network; user: the internet through slirp4netns, this machine's "
        "loopback unreachable; host: this machine's network, loopback services included; e2b: "
        "the remote VM's own network.",
    )
    workspace: str = Field(description="The workspace directory as commands see it (HOME, cwd).")
    python: str | None = Field(default=None, description="Interpreter `python` runs.")
    limits: Limits
    created_at: float
    last_used_at: float
    idle_expires_at: float | None = None
    end_reason: str | None = None
    files_written: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    def summary(self) -> str:
        net = {
            "none": "no network",
            "user": "internet only",
            "host": "host network",
            "e2b": "network",
        }[self.network]
        line = (
            f"{self.sandbox_id} [{self.backend}, {self.isolation}, {net}] {self.status}; "
            f"workspace {self.workspace}; used {_ago(self.last_used_at)}"
        )
        return line + (f"; {self.end_reason}" if self.end_reason else "")

    def render(self) -> str:
        # Warnings first: a sandbox weaker than it looks must say so in the first line.
        lines = [f"WARNING: {warning}" for warning in self.warnings]
        lines.append(f"Sandbox {self.summary()}")
        limits = self.limits
        scope = "sandbox" if limits.memory_per_sandbox else "process"
        lines.append(
            f"Limits: {limits.memory_mb} MiB memory per {scope}, {limits.cpu_s} CPU s per exec"
            + (f", {limits.max_processes} processes" if limits.max_processes else "")
            + (
                f", workspace {limits.disk_quota_mb} MiB / {limits.max_files} files"
                if limits.disk_quota_mb
                else ""
            )
            + f"; destroyed after {limits.idle_timeout_s}s idle."
        )
        if self.python:
            lines.append(f"python: {self.python}")
        if self.files_written:
            lines.append("Files written: " + ", ".join(self.files_written))
        if self.status == "active":
            lines.append(
                f"Next: sandbox_exec(sandbox_id='{self.sandbox_id}', command='...'); "
                f"sandbox_files for files."
            )
        return "\n".join(lines)


class SandboxList(BaseModel):
    sandboxes: list[SandboxInfo]
    active_count: int
    truncated: bool = False
    hint: str | None = None

    def render(self) -> str:
        if not self.sandboxes:
            return "No sandboxes. Create one with sandbox_create()."
        lines = [f"{self.active_count} active sandbox(es):"]
        lines += [f"- {info.summary()}" for info in self.sandboxes]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class StreamOutput(BaseModel):
    text: str = Field(description="The output, or its head and tail when it was too long.")
    total_bytes: int
    truncated: bool
    saved_to: str | None = Field(
        default=None, description="Workspace path of the full text, when it was cut."
    )
    tail_start_line: int | None = Field(
        default=None, description="Line of the saved file where the shown tail starts."
    )


class ExecResult(BaseModel):
    sandbox_id: str
    exit_code: int | None = Field(description="None when the command was ended by a signal.")
    signal: str | None = None
    killed: bool = Field(description="True when a limit or the timeout ended the command.")
    killed_reason: KillReason | None = None
    duration_s: float
    isolation: str
    stdout: StreamOutput
    stderr: StreamOutput
    notes: list[str] = Field(default_factory=list)
    hint: str | None = None

    def render(self) -> str:
        status = f"exit {self.exit_code}" if self.exit_code is not None else "no exit code"
        if self.signal:
            status += f" ({self.signal})"
        if self.killed:
            status += f"; KILLED: {self.killed_reason}"
        lines = [f"{status} · {self.duration_s:.2f}s · {self.isolation} · {self.sandbox_id}"]
        for name, stream in (("stdout", self.stdout), ("stderr", self.stderr)):
            if not stream.total_bytes:
                continue
            lines.append(f"--- {name} ({stream.total_bytes} bytes) ---")
            lines.append(stream.text.rstrip("\n"))
        if not (self.stdout.total_bytes or self.stderr.total_bytes):
            lines.append("(no output)")
        lines += self.notes
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class DirEntryView(BaseModel):
    name: str
    kind: Literal["file", "dir", "other", "missing"]
    size: int


class FileView(BaseModel):
    sandbox_id: str
    path: str
    kind: Literal["file", "dir"]
    size_bytes: int = 0
    binary: bool = False
    text: str = Field(default="", description="Numbered lines ('  12<TAB>content').")
    start_line: int | None = None
    end_line: int | None = None
    total_lines: int | None = None
    entries: list[DirEntryView] = Field(default_factory=list)
    truncated: bool = False
    next_offset: int | None = None
    hint: str | None = None

    def render(self) -> str:
        if self.kind == "dir":
            lines = [f"{self.path}/ in {self.sandbox_id}: {len(self.entries)} entries"]
            for entry in self.entries:
                suffix = "/" if entry.kind == "dir" else ""
                size = f"  {entry.size} B" if entry.kind == "file" else ""
                lines.append(f"  {entry.name}{suffix}{size}")
        elif self.binary:
            lines = [f"{self.path}: binary file, {self.size_bytes} bytes (not shown)"]
        else:
            of = f" of {self.total_lines}" if self.total_lines is not None else ""
            header = f"{self.path} ({self.size_bytes} bytes), lines {self.start_line}-{self.end_line}{of}"
            lines = [header, self.text] if self.text else [header, "(no lines in this range)"]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class WriteResult(BaseModel):
    sandbox_id: str
    path: str
    bytes_written: int
    created: bool = Field(description="True when the file did not exist before.")

    def render(self) -> str:
        verb = "Created" if self.created else "Overwrote"
        return f"{verb} {self.path} in {self.sandbox_id} ({self.bytes_written} bytes)."


class EditResult(BaseModel):
    sandbox_id: str
    path: str
    replacements: int
    size_bytes: int
    snippet: str = Field(description="Numbered lines around the first replacement, after it.")

    def render(self) -> str:
        return (
            f"Replaced {self.replacements} occurrence(s) in {self.path} ({self.sandbox_id}). "
            f"Now:\n{self.snippet}"
        )


class DestroyResult(BaseModel):
    sandbox_id: str
    destroyed: bool = Field(description="True when this call destroyed it.")
    already_destroyed: bool = False
    end_reason: str | None = None

    def render(self) -> str:
        if self.already_destroyed:
            return f"{self.sandbox_id} was already gone ({self.end_reason})."
        return f"Destroyed {self.sandbox_id}: its processes are stopped and its files deleted."
