"""Bounds on one streamed model call: time to first chunk, idle time between chunks, and
degenerate output.

A broken local model (a GGUF with no chat template, say) can stream ``<|im_end|>`` lines for
ever, or stop sending mid-answer while holding the connection open. Neither is an error the
provider reports, so the stream itself is watched: a call whose first chunk does not arrive in
``first_token_s`` or that goes ``idle_s`` without a chunk raises ``StreamStalled`` (retried by
the LLM retry policy like any transient failure), and a call whose tail is one short unit (a
token, a line, a short cycle) repeated far past any real answer is cut, keeping what came
before the repetition, so the loop can tell the model what happened instead of feeding the
garbage back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

# A repetition must cover this many characters AND this many repeats before it is degenerate:
# a Markdown rule or a table of zeros stays far below both.
MIN_SPAN_CHARS = 2000
MIN_REPEATS = 20
MAX_PERIOD = 200  # the longest repeated unit looked for (a line or a short cycle of lines)
CHECK_EVERY_CHARS = 256  # scanning on every chunk would be quadratic on long answers


class StreamStalled(Exception):
    """The stream sent nothing for too long (no first chunk, or idle mid-answer)."""


@dataclass(frozen=True)
class Degeneration:
    unit: str  # the repeated text
    repeats: int
    kept: str  # the answer before the repetition started

    def describe(self) -> str:
        shown = self.unit if len(self.unit) <= 40 else self.unit[:40] + "…"
        return f"{shown!r} repeated {self.repeats} times"


def find_degeneration(text: str) -> Degeneration | None:
    """The short unit the end of ``text`` repeats degenerately, if any."""
    if len(text) < MIN_SPAN_CHARS:
        return None
    for period in range(1, MAX_PERIOD + 1):
        unit = text[-period:]
        needed = max(MIN_REPEATS, -(-MIN_SPAN_CHARS // period))
        if len(text) < needed * period or text[-needed * period :] != unit * needed:
            continue
        start = len(text) - needed * period
        while start >= period and text[start - period : start] == unit:
            start -= period
        # The stream may stop mid-unit: slide back to where the repetition really began, so
        # the unit reads as the model produced it ("<|im_end|>\n", not "\n<|im_end|>").
        while start > 0 and text[start - 1] == text[start - 1 + period]:
            start -= 1
        unit = text[start : start + period]
        return Degeneration(unit, (len(text) - start) // period, text[:start])
    return None


class DegenerationWatch:
    """Fed the streamed text piece by piece; says when the tail has degenerated."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self._size = 0
        self._checked_at = 0
        self._last_piece = ""
        self._piece_run = 0

    def feed(self, piece: str) -> Degeneration | None:
        self.text.append(piece)
        self._size += len(piece)
        self._piece_run = self._piece_run + 1 if piece == self._last_piece else 1
        self._last_piece = piece
        if self._size - self._checked_at < CHECK_EVERY_CHARS:
            return None
        self._checked_at = self._size
        joined = "".join(self.text)
        self.text = [joined]
        return find_degeneration(joined)

    def repeated_chunk(self) -> Degeneration:
        """What litellm's own guard saw when it stopped the stream (identical chunks)."""
        joined = "".join(self.text)
        cut = len(self._last_piece) * self._piece_run
        return Degeneration(self._last_piece, self._piece_run, joined[: len(joined) - cut])


def is_litellm_repetition(exc: BaseException) -> bool:
    # litellm's stream wrapper raises InternalServerError after 100 identical chunks (its
    # REPEATED_STREAMING_CHUNK_LIMIT); retrying would only run the broken model again.
    return "The model is repeating the same chunk" in str(exc)


async def bounded_chunks(
    response: Any, *, first_token_s: float, idle_s: float
) -> AsyncIterator[Any]:
    """The chunks of ``response``, raising ``StreamStalled`` when one is too long in coming."""
    iterator = response.__aiter__()
    first = True
    while True:
        limit = first_token_s if first else idle_s
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), timeout=limit)
        except StopAsyncIteration:
            return
        except TimeoutError:
            await close_quietly(response)
            what = "no first token" if first else "the stream went idle"
            raise StreamStalled(f"{what} for {limit:g}s") from None
        first = False
        yield chunk


async def close_quietly(response: Any) -> None:
    """Drop the connection of a stream we stopped reading (the server may keep generating)."""
    for name in ("aclose", "close"):
        closer = getattr(response, name, None)
        if closer is None:
            continue
        try:
            result = closer()
            if asyncio.iscoroutine(result):
                await asyncio.wait_for(result, timeout=2)
        except Exception:  # already closed, or a wrapper without a real close: nothing to free
            pass
        return
