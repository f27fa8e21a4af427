"""A saved session as a Claude Code transcript: the JSONL layout Hugging Face's agent-trace
viewer reads (https://huggingface.co/docs/hub/agent-traces).

One JSON object per line, ``type`` ``user`` or ``assistant``, each with ``uuid``,
``parentUuid`` (the previous line's, so the lines form one chain), ``sessionId``, an ISO 8601
``timestamp``, ``isSidechain``, ``userType``, ``version`` and a ``message`` in Anthropic's
shape: the user's text as a string; the model's turn as content blocks (``text``, ``tool_use``
with the parsed ``input``) with ``model``, ``stop_reason`` and ``usage``; each tool result as a
user line holding one ``tool_result`` block. The system prompt is not part of a Claude Code
transcript and is left out. Messages a compaction or a repair put in place are added when they
first appear (a summary is marked ``isCompactSummary``), so the shared trace is the whole
conversation, not only what the model saw last.

Identifiers are derived from the session id, so sharing the same session twice writes the
same lines.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from agent.compaction import AGENT_MARK

_NAMESPACE = uuid.UUID("0b1b1f4e-6c53-4f0c-9a57-6d6c696e7465")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlintern")
    except PackageNotFoundError:
        return "0"


def _timestamp(at: float | None) -> str:
    moment = datetime.fromtimestamp(at or 0.0, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key(message: dict[str, Any]) -> str:
    return json.dumps(message, sort_keys=True)


class _Transcript:
    def __init__(self, session_id: str, model: str):
        self.session_uuid = str(uuid.uuid5(_NAMESPACE, session_id))
        self.model = model
        self.version = _version()
        self.lines: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.usage: dict[str, Any] | None = None  # the usage record before the next reply

    def add(self, message: dict[str, Any], at: float | None, **extra: Any) -> None:
        self.seen.add(_key(message))
        role = message.get("role")
        if role == "assistant":
            self._line("assistant", self._assistant(message), at, extra)
        elif role == "tool":
            content = str(message.get("content") or "")
            block = {
                "type": "tool_result",
                "tool_use_id": str(message.get("tool_call_id") or ""),
                "content": content,
                "is_error": content.startswith("Error"),
            }
            self._line("user", {"role": "user", "content": [block]}, at, extra)
        elif role == "user":
            text = message.get("content")
            text = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
            if text.startswith(AGENT_MARK):  # a nudge the agent wrote, not the person
                extra = {**extra, "isMeta": True}
            self._line("user", {"role": "user", "content": text}, at, extra)
        # role "system": not part of a Claude Code transcript

    def _assistant(self, message: dict[str, Any]) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [
            {"type": "thinking", "thinking": str(block.get("thinking") or "")}
            for block in message.get("thinking_blocks") or []
            if isinstance(block, dict) and block.get("type") == "thinking"
        ]
        if message.get("content"):
            blocks.append({"type": "text", "text": str(message["content"])})
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": str(call.get("id") or ""),
                    "name": str(function.get("name") or ""),
                    "input": _arguments(function.get("arguments")),
                }
            )
        usage, self.usage = self.usage or {}, None
        read = int(usage.get("cache_read_tokens") or 0)
        written = int(usage.get("cache_write_tokens") or 0)
        prompt = int(usage.get("prompt_tokens") or 0)
        return {
            "id": f"msg_{uuid.uuid5(_NAMESPACE, f'{self.session_uuid}:{len(self.lines)}').hex}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": blocks or [{"type": "text", "text": ""}],
            "stop_reason": "tool_use" if message.get("tool_calls") else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": max(0, prompt - read - written),
                "output_tokens": int(usage.get("completion_tokens") or 0),
                "cache_read_input_tokens": read,
                "cache_creation_input_tokens": written,
            },
        }

    def _line(self, kind: str, message: dict[str, Any], at: float | None, extra: dict) -> None:
        line_uuid = str(uuid.uuid5(_NAMESPACE, f"{self.session_uuid}:{len(self.lines)}"))
        self.lines.append(
            {
                "type": kind,
                "uuid": line_uuid,
                "parentUuid": self.lines[-1]["uuid"] if self.lines else None,
                "sessionId": self.session_uuid,
                "timestamp": _timestamp(at),
                "isSidechain": False,
                "userType": "external",
                "version": self.version,
                "message": message,
                **extra,
            }
        )


def _arguments(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except (json.JSONDecodeError, TypeError):
        return {"raw_arguments": str(text)}  # the model sent malformed JSON: keep what it sent
    return value if isinstance(value, dict) else {"value": value}


def claude_code_lines(records: list[dict[str, Any]], session_id: str) -> list[dict[str, Any]]:
    """The transcript lines of a session's records (as ``SessionStore.records`` returns them)."""
    meta = next((r for r in records if r.get("type") == "meta"), {})
    transcript = _Transcript(session_id, str(meta.get("model") or "unknown"))
    for record in records:
        kind = record.get("type")
        if kind == "usage":
            transcript.usage = record
        elif kind == "message" and isinstance(record.get("message"), dict):
            transcript.add(record["message"], record.get("at"))
        elif kind == "replace":
            compacted = str(record.get("reason") or "").startswith("compacted")
            for message in record.get("messages") or []:
                if isinstance(message, dict) and _key(message) not in transcript.seen:
                    extra = {"isCompactSummary": True} if compacted and message.get("role") == "user" else {}  # fmt: skip
                    transcript.add(message, record.get("at"), **extra)
    return transcript.lines
