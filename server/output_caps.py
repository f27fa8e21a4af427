"""Output caps: no tool returns unbounded text.

``page_text`` cuts a long text at a character offset and says exactly how to get the rest, in
the style of the MCP fetch server ("call X with offset=N for more").
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from server.redact import redact


class TextPage(BaseModel):
    """One window of a longer text."""

    text: str
    offset: int = Field(description="Character offset of the first character returned.")
    total_chars: int
    truncated: bool = Field(description="True when more text follows this window.")
    next_offset: int | None = Field(default=None, description="Offset to ask for next.")
    hint: str | None = Field(default=None, description="How to get the rest.")


def page_text(text: str, *, offset: int = 0, max_chars: int, continue_with: str) -> TextPage:
    """Return ``text[offset:offset+max_chars]`` with a continuation hint.

    ``continue_with`` names the call that fetches more, e.g. ``"jobs_logs(job_id='j-1', ...)"``;
    the hint appends the offset to use.
    """
    if offset < 0:
        offset = 0
    text = redact(text)  # before the cut: a window edge must not leave a secret's prefix
    total = len(text)
    window = text[offset : offset + max_chars]
    end = offset + len(window)
    truncated = end < total
    hint = None
    if truncated:
        hint = (
            f"Output cut at {end} of {total} characters. "
            f"Call {continue_with} with offset={end} for more."
        )
    return TextPage(
        text=window,
        offset=offset,
        total_chars=total,
        truncated=truncated,
        next_offset=end if truncated else None,
        hint=hint,
    )


def cap_text(text: str, max_chars: int, note: str = "") -> str:
    """Keep the head and tail of ``text`` within ``max_chars``, marking what was dropped."""
    if len(text) <= max_chars:
        return text
    text = redact(text)  # before the cut, so no secret's prefix survives it
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 3
    tail = max_chars - head
    dropped = len(text) - head - tail
    marker = f"\n… [{dropped} characters cut{'; ' + note if note else ''}] …\n"
    return text[:head] + marker + text[len(text) - tail :]


def clip_value(value: str, max_chars: int = 200) -> str:
    """Shorten one long value (a cell, a line) for display."""
    if len(value) <= max_chars:
        return value
    value = redact(value)  # before the cut, so no secret's prefix survives it
    if len(value) <= max_chars:
        return value
    return value[: max_chars - 1] + "…"
