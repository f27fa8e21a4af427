"""What Anthropic's Messages API sends back for a scripted reply, so litellm's real ``anthropic/``
provider can talk to the scripted LLM (tests/fakes/llm.py) at ``POST /v1/messages``.

Shapes from Anthropic's API reference (Messages, Streaming Messages, Errors, Prompt caching)
as litellm's anthropic transformation parses them: a ``message`` object with ``content``
blocks (``text``, ``tool_use``) and ``usage`` (``input_tokens``, ``output_tokens``,
``cache_read_input_tokens``, ``cache_creation_input_tokens``); the streamed events
``message_start`` / ``content_block_start`` / ``content_block_delta`` (``text_delta``,
``input_json_delta``) / ``content_block_stop`` / ``message_delta`` / ``message_stop``; and errors
as ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from fakes.llm_wire import pieces

if TYPE_CHECKING:
    from fakes.llm import Reply

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def is_messages_path(path: str) -> bool:
    return path.split("?", 1)[0].rstrip("/").endswith("/messages")


def usage_block(usage: dict[str, Any]) -> dict[str, int]:
    """Anthropic's usage from the server's OpenAI-shaped one: ``input_tokens`` excludes the
    tokens read from or written to the cache, which are counted apart."""
    details = usage.get("prompt_tokens_details") or {}
    read = int(details.get("cached_tokens") or 0)
    created = int(usage.get("cache_creation_input_tokens") or 0)
    return {
        "input_tokens": max(0, usage["prompt_tokens"] - read - created),
        "output_tokens": usage["completion_tokens"],
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": created,
    }


def signature(thinking: str) -> str:
    """The opaque signature Anthropic puts on a thinking block (here: a digest of its text)."""
    return "sig-" + hashlib.sha256(thinking.encode()).hexdigest()[:24]


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking:
        blocks.append(
            {"type": "thinking", "thinking": reply.thinking, "signature": signature(reply.thinking)}
        )
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        try:
            arguments = json.loads(call.arguments_text or "{}")
        except json.JSONDecodeError:
            arguments = {"_raw": call.arguments_text}  # Anthropic always sends an object
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def _stop_reason(reply: Reply) -> str:
    return "tool_use" if reply.tool_calls else "end_turn"


def message(model: str, reply: Reply, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _blocks(reply),
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": usage_block(usage),
    }


def error_response(reply: Reply) -> tuple[int, dict[str, str], Any]:
    kind = ERROR_TYPES.get(reply.status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": reply.error_message}}
    return reply.status, {"Content-Type": "application/json", **reply.headers}, body


def sse_events(model: str, reply: Reply, usage: dict[str, Any]) -> list[tuple[str, dict]]:
    """The (event name, data) pairs of a streamed answer."""
    start = message(model, reply, usage)
    start_usage = {**start["usage"], "output_tokens": 1}
    opening_message = {**start, "content": [], "stop_reason": None, "usage": start_usage}
    events: list[tuple[str, dict]] = [
        ("message_start", {"type": "message_start", "message": opening_message})
    ]
    for index, block in enumerate(start["content"]):
        if block["type"] == "text":
            opening, deltas = (
                {"type": "text", "text": ""},
                [{"type": "text_delta", "text": piece} for piece in pieces(block["text"])],
            )
        elif block["type"] == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": piece} for piece in pieces(block["thinking"])
            ] + [{"type": "signature_delta", "signature": block["signature"]}]
        else:
            opening = {**block, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": piece}
                for piece in pieces(json.dumps(block["input"]), 2)
            ]
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}))  # fmt: skip
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    final = {"output_tokens": usage["completion_tokens"]}
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None}, "usage": final}))  # fmt: skip
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def sse_bytes(events: list[tuple[str, dict]]) -> bytes:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()
