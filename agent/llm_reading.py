"""Reading a model's answer through litellm: the streamed chunks or the whole message, and the
token usage the provider reported — including the part served from its prompt cache.

litellm normalises usage to the OpenAI shape: ``prompt_tokens`` counts every input token,
cached or not; ``prompt_tokens_details.cached_tokens`` (OpenAI) and ``cache_read_input_tokens``
(Anthropic) say how many were read from the cache, ``cache_creation_input_tokens`` (Anthropic)
how many were written to it. Both matter for the price: reads cost about a tenth, writes a
quarter more.

A thinking model's reasoning arrives as ``thinking_blocks`` (streamed in pieces, the signature
last); they are kept whole because Anthropic requires them back with the tool calls they led to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.config import Limits
from agent.stream_guard import (
    Degeneration,
    DegenerationWatch,
    bounded_chunks,
    close_quietly,
    is_litellm_repetition,
)

if TYPE_CHECKING:
    from agent.llm import ToolCallRequest


@dataclass(frozen=True)
class TokenUsage:
    prompt: int
    completion: int
    cache_read: int = 0  # part of ``prompt`` read from the provider's prompt cache
    cache_write: int = 0  # part of ``prompt`` written to it


def usage_of(usage: Any) -> TokenUsage | None:
    """The usage litellm reported (a response's or a stream chunk's), or None without one."""
    if not usage or not getattr(usage, "prompt_tokens", None):
        return None
    details = getattr(usage, "prompt_tokens_details", None)
    read = getattr(details, "cached_tokens", None) or getattr(usage, "cache_read_input_tokens", 0)
    written = getattr(usage, "cache_creation_input_tokens", None) or getattr(
        details, "cache_creation_tokens", 0
    )
    return TokenUsage(
        int(usage.prompt_tokens),
        int(usage.completion_tokens or 0),
        int(read or 0),
        int(written or 0),
    )


Thinking = list[dict[str, Any]]


async def read_stream(
    response: Any, on_text: Callable[[str], Awaitable[None]] | None, limits: Limits
) -> tuple[str, list[ToolCallRequest], TokenUsage | None, Degeneration | None, Thinking]:
    from agent.llm import ToolCallRequest

    parts: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    thinking: dict[int, dict[str, Any]] = {}
    usage: TokenUsage | None = None
    watch = DegenerationWatch()
    chunks = bounded_chunks(
        response,
        first_token_s=limits.first_token_timeout_s,
        idle_s=limits.stream_idle_timeout_s,
    )
    try:
        async for chunk in chunks:
            degenerate = _take_chunk(chunk, parts, calls, thinking, watch)
            usage = usage_of(getattr(chunk, "usage", None)) or usage
            if degenerate is not None:  # stop reading: keep only what came before the loop
                await close_quietly(response)
                return degenerate.kept, [], usage, degenerate, []
            if on_text is not None and chunk.choices and chunk.choices[0].delta is not None:
                if chunk.choices[0].delta.content:
                    await on_text(chunk.choices[0].delta.content)
    except Exception as exc:
        if not is_litellm_repetition(exc):
            raise
        await close_quietly(response)
        degenerate = watch.repeated_chunk()
        return degenerate.kept, [], usage, degenerate, []
    tool_calls = [
        ToolCallRequest(c["id"] or f"call_{i}", c["name"], c["arguments"])
        for i, c in sorted(calls.items())
    ]
    return "".join(parts), tool_calls, usage, None, [thinking[i] for i in sorted(thinking)]


def _take_thinking(pieces: Any, thinking: dict[int, dict[str, Any]]) -> None:
    for piece in pieces or []:
        piece = dict(piece) if not isinstance(piece, dict) else piece
        index = int(piece.get("index") or 0)
        if piece.get("type") != "thinking":  # redacted_thinking arrives whole
            thinking[index] = {k: v for k, v in piece.items() if k != "index"}
            continue
        block = thinking.setdefault(index, {"type": "thinking", "thinking": "", "signature": ""})
        block["thinking"] += piece.get("thinking") or ""
        block["signature"] = piece.get("signature") or block["signature"]


def _take_chunk(
    chunk: Any,
    parts: list[str],
    calls: dict[int, dict[str, str]],
    thinking: dict[int, dict[str, Any]],
    watch: DegenerationWatch,
) -> Degeneration | None:
    if not chunk.choices:
        return None
    delta = chunk.choices[0].delta
    if delta is None:
        return None
    _take_thinking(getattr(delta, "thinking_blocks", None), thinking)
    for piece in delta.tool_calls or []:
        entry = calls.setdefault(piece.index or 0, {"id": "", "name": "", "arguments": ""})
        if piece.id:
            entry["id"] = piece.id
        function = piece.function
        if function is not None:
            if function.name and not entry["name"]:
                entry["name"] = function.name
            entry["arguments"] += function.arguments or ""
    if not delta.content:
        return None
    parts.append(delta.content)
    return watch.feed(delta.content)


def read_message(response: Any) -> tuple[str, list[ToolCallRequest], TokenUsage | None, Thinking]:
    from agent.llm import ToolCallRequest

    message = response.choices[0].message
    tool_calls = [
        ToolCallRequest(c.id or f"call_{i}", c.function.name or "", c.function.arguments or "")
        for i, c in enumerate(message.tool_calls or [])
    ]
    thinking = [dict(b) for b in getattr(message, "thinking_blocks", None) or []]
    return message.content or "", tool_calls, usage_of(getattr(response, "usage", None)), thinking
