"""What an OpenAI-compatible chat server sends back for a scripted reply: completion objects,
streamed ``chat.completion.chunk`` events with usage, and error bodies (shapes from OpenAI's API
reference and the openai client's types). Used by tests/fakes/llm.py."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakes.llm import Reply

CHARS_PER_TOKEN = 4


def completion_tokens(reply: Reply) -> int:
    size = len(reply.text) + sum(len(c.name) + len(c.arguments_text) for c in reply.tool_calls)
    return max(1, size // CHARS_PER_TOKEN)


def error_response(reply: Reply) -> tuple[int, dict[str, str], Any]:
    body = {
        "error": {
            "message": reply.error_message,
            "type": reply.error_type,
            "param": None,
            "code": reply.error_code,
        }
    }
    return reply.status, {"Content-Type": "application/json", **reply.headers}, body


def message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_text},
            }
            for c in reply.tool_calls
        ]
    return message


def completion(model: str, reply: Reply, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message(reply),
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": usage,
    }


def pieces(text: str, n: int = 3) -> list[str]:
    """Split ``text`` into up to ``n`` chunks, the way a model streams tokens."""
    if not text:
        return []
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def sse_chunks(model: str, reply: Reply, usage: dict[str, int] | None) -> list[dict[str, Any]]:
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in pieces(reply.text)]
    for index, tool_call in enumerate(reply.tool_calls):
        arguments = pieces(tool_call.arguments_text, 2) or [""]
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": tool_call.id,
                            "type": "function",
                            "function": {"name": tool_call.name, "arguments": arguments[0]},
                        }
                    ]
                }
            )
        )
        chunks += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in arguments[1:]
        ]
    chunks.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    if usage is not None:
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def raw_members(text: str) -> dict[str, str]:
    """The exact source text of each top-level member of the JSON object ``text``: byte-level
    comparisons of parts of a request body (its system prompt, its tools) need their bytes as
    sent, not a re-serialisation of the parsed value."""
    decoder = json.JSONDecoder()
    members: dict[str, str] = {}
    at = _skip_space(text, text.index("{") + 1)
    while text[at] != "}":
        key, at = decoder.raw_decode(text, at)
        at = _skip_space(text, at)
        assert text[at] == ":", f"not a JSON object member at {at}"
        start = _skip_space(text, at + 1)
        _, at = decoder.raw_decode(text, start)
        members[key] = text[start:at]
        at = _skip_space(text, at)
        if text[at] == ",":
            at = _skip_space(text, at + 1)
    return members


def raw_items(text: str) -> list[str]:
    """The exact source text of each item of the JSON array ``text``."""
    decoder = json.JSONDecoder()
    items: list[str] = []
    at = _skip_space(text, text.index("[") + 1)
    while text[at] != "]":
        start = at
        _, at = decoder.raw_decode(text, start)
        items.append(text[start:at])
        at = _skip_space(text, at)
        if text[at] == ",":
            at = _skip_space(text, at + 1)
    return items
