"""Sessions: every run as a JSONL trace under ``MLINTERN_HOME/sessions``, and resuming one.

Each record is one line written with a single ``write`` as it happens (a message, a compaction,
a tool call starting, usage, a pause, the end of a run), so a process killed with SIGKILL loses
at most the line being written (``load`` ignores a torn last line); turns end with an fsync,
rate-limited, and the end of a run always fsyncs. Files are private (0600, in a 0700 directory) and every record passes through
``server.redact`` together with the config's own secrets (API key, auth headers) first.

Loading replays the records: messages are appended, a ``replace`` record (compaction, repair)
swaps the list. A tool call that was *started* but has no result was cut off mid-flight and is
answered as interrupted; one that never started (the run was waiting for an approval) is run
again on resume.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from server.errors import NotFoundError, UserError
from server.redact import redact, redact_data

_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
FORMAT_VERSION = 1


def new_session_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass
class SavedSession:
    session_id: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    started_calls: set[str] = field(default_factory=set)
    cost_usd: float = 0.0
    iterations: int = 0
    paused: list[dict[str, Any]] = field(default_factory=list)
    last_reason: str | None = None
    torn_line: bool = False


@dataclass
class SessionInfo:
    session_id: str
    modified: float
    title: str


class SessionWriter:
    """Appends records to one session file."""

    def __init__(self, path: Path, session_id: str, secret_values: Iterable[str] = ()):
        self.path = path
        self.session_id = session_id
        self._secrets = tuple(secret_values)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._synced_at = 0.0
        os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed

    def write(self, record: dict[str, Any]) -> None:
        if self._fd < 0:
            return
        record = {"at": round(time.time(), 3), **record}
        line = json.dumps(scrub(record, self._secrets), ensure_ascii=False) + "\n"
        os.write(self._fd, line.encode())  # one write per record: a kill never splits two

    def on_context(self, action: str, payload: Any) -> None:
        """``ContextManager`` listener: mirror every change of the history."""
        if action == "append":
            self.write({"type": "message", "message": payload})
        else:
            messages, reason = payload
            self.write({"type": "replace", "reason": reason, "messages": messages})

    def sync(self, force: bool = False) -> None:
        """Flush to disk. Each record is already in the OS's hands when ``write`` returns, so a
        killed process loses nothing; fsync only guards against a machine crash, and at ~20 ms
        a call on slow disks it is done at most once a second unless ``force``."""
        if self._fd >= 0 and (force or time.monotonic() - self._synced_at >= 1.0):
            os.fsync(self._fd)
            self._synced_at = time.monotonic()

    def save_output(self, call_id: str, text: str) -> Path:
        """Keep a tool's full output beside the session when the model only sees part of it."""
        folder = self.path.with_suffix(".outputs")
        folder.mkdir(mode=0o700, exist_ok=True)
        target = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', call_id)}.txt"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, redact(text, self._secrets).encode())
        finally:
            os.close(fd)
        return target

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


class SessionStore:
    def __init__(self, home: Path, secret_values: Iterable[str] = ()):
        self.root = Path(home) / "sessions"
        self._secrets = tuple(secret_values)

    def _ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def path_of(self, session_id: str) -> Path:
        if not _SESSION_ID.match(session_id):
            raise UserError(
                f"{session_id!r} is not a session id (they look like 20250101-120000-a1b2c3)."
            )
        return self.root / f"{session_id}.jsonl"

    def create(self, meta: dict[str, Any]) -> SessionWriter:
        self._ensure_root()
        session_id = new_session_id()
        writer = SessionWriter(self.path_of(session_id), session_id, self._secrets)
        writer.write({"type": "meta", "version": FORMAT_VERSION, "session_id": session_id, **meta})
        return writer

    def reopen(self, session_id: str) -> SessionWriter:
        self.load(session_id)  # refuses ids that do not exist
        writer = SessionWriter(self.path_of(session_id), session_id, self._secrets)
        writer.write({"type": "resumed"})
        return writer

    def load(self, session_id: str) -> SavedSession:
        path = self.path_of(session_id)
        if not path.is_file():
            known = ", ".join(info.session_id for info in self.list(5)) or "none yet"
            raise NotFoundError(
                f"No session {session_id!r} in {self.root}. Recent sessions: {known}. "
                "In interactive mode, /resume lists them."
            )
        saved = SavedSession(session_id, path)
        for record in self._read(path):
            if record is None:
                saved.torn_line = True
            else:
                _apply(saved, record)
        return saved

    def records(self, session_id: str) -> list[dict[str, Any]]:
        """Every record of a session in order (a torn last line left out), e.g. to share it."""
        self.load(session_id)  # the same checks and messages for an unknown id
        return [r for r in self._read(self.path_of(session_id)) if r is not None]

    @staticmethod
    def _read(path: Path) -> Iterable[dict[str, Any] | None]:
        """Records of ``path``; None for a torn last line (cut by a kill mid-write)."""
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                if number >= len(lines) - 2:
                    yield None
                    continue
                raise UserError(
                    f"{path} line {number + 1} is not JSON; the file was edited or damaged."
                ) from None

    def list(self, limit: int = 20) -> list[SessionInfo]:
        if not self.root.is_dir():
            return []
        files = sorted(self.root.glob("*.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [SessionInfo(p.stem, p.stat().st_mtime, _title(p)) for p in files[:limit]]


def scrub(data: Any, extra: tuple[str, ...]) -> Any:
    """``server.redact`` over every string in ``data``."""
    return redact_data(data, extra)


def _apply(saved: SavedSession, record: dict[str, Any]) -> None:
    kind = record.get("type")
    if kind == "meta":
        saved.meta = record
    elif kind == "message":
        saved.messages.append(record["message"])
        saved.paused = []
    elif kind == "replace":
        saved.messages = list(record["messages"])
    elif kind == "tool_started":
        saved.started_calls.add(record["call_id"])
    elif kind == "usage":
        saved.cost_usd += float(record.get("cost_usd") or 0.0)
    elif kind == "iteration":
        saved.iterations += 1
    elif kind == "paused":
        saved.paused = list(record.get("requests") or [])
    elif kind == "done":
        saved.last_reason = record.get("reason")


def _title(path: Path) -> str:
    """The session's task, for listings: the first user message."""
    try:
        with path.open(encoding="utf-8") as handle:
            for _, line in zip(range(50), handle, strict=False):
                record = json.loads(line)
                message = record.get("message") or {}
                if message.get("role") == "user":
                    text = " ".join(str(message.get("content") or "").split())
                    return text[:80]
    except (OSError, json.JSONDecodeError):
        pass
    return ""
