"""Text handling for reading and editing sandbox files: binary detection, line paging, exact edits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.errors import UserError
from toolkits.sandbox.backends.base import FileReader

SNIFF_BYTES = 8192
READ_CHUNK = 1024 * 1024
MAX_LINE_CHARS = 2000
LONG_LINE_BYTES = 4 * MAX_LINE_CHARS
# Counting every line of a huge file (a 100 MB log) just to print "of N" is not worth it.
COUNT_LINES_UP_TO = 16 * 1024 * 1024


def looks_binary(sample: bytes) -> bool:
    if b"\0" in sample:
        return True
    text = sample.decode("utf-8", errors="replace")
    # A cut multi-byte character at the end of the sample is not evidence of binary data.
    return text.count("\ufffd") > max(4, len(text) // 20)


@dataclass
class LinePage:
    text: str  # numbered lines, "     7\tcontent"
    start_line: int
    end_line: int  # last line shown (start_line - 1 when nothing was)
    total_lines: int | None
    more: bool


def _numbered(number: int, line: str) -> str:
    if len(line) > MAX_LINE_CHARS:
        line = line[:MAX_LINE_CHARS] + f" … [line cut at {MAX_LINE_CHARS} characters]"
    return f"{number:>6}\t{line}"


async def _raw_lines(reader: FileReader) -> AsyncIterator[bytes]:
    position = 0
    pending = b""
    while position < reader.size:
        chunk = await reader.read(position, READ_CHUNK)
        if not chunk:  # the file shrank under us
            break
        position += len(chunk)
        parts = (pending + chunk).split(b"\n")
        # Only the head of an endless line is ever shown, so only the head is kept.
        pending = parts.pop()[:LONG_LINE_BYTES]
        for part in parts:
            yield part
    if pending:
        yield pending


async def page_lines(reader: FileReader, *, offset: int, limit: int, max_chars: int) -> LinePage:
    """Lines ``offset`` (1-based) onwards, at most ``limit`` of them and ``max_chars`` in all."""
    shown: list[str] = []
    used = 0
    line_no = 0
    more = False
    count_all = reader.size <= COUNT_LINES_UP_TO
    async for raw in _raw_lines(reader):
        line_no += 1
        if line_no < offset:
            continue
        if not more:
            rendered = _numbered(line_no, raw.decode("utf-8", errors="replace").rstrip("\r"))
            if len(shown) < limit and (not shown or used + len(rendered) + 1 <= max_chars):
                shown.append(rendered)
                used += len(rendered) + 1
                continue
            more = True
        if not count_all:
            break
    return LinePage(
        text="\n".join(shown),
        start_line=offset,
        end_line=offset + len(shown) - 1,
        total_lines=line_no if (count_all or not more) else None,
        more=more,
    )


def apply_edit(text: str, old: str, new: str, replace_all: bool, path: str) -> tuple[str, int, int]:
    """Replace ``old`` by ``new``; return (new text, replacements, offset of the first one)."""
    if not old:
        raise UserError(
            "`old` is empty: give the exact text to replace (copy it from sandbox_files)."
        )
    if old == new:
        raise UserError("`old` and `new` are identical; nothing would change.")
    count = text.count(old)
    if count == 0:
        raise UserError(
            f"The text to replace was not found in {path}. Read the file with sandbox_files and "
            f"copy the exact text, including indentation and line breaks (line numbers and the "
            f"tab after them are not part of the file)."
        )
    first = text.index(old)
    if count > 1 and not replace_all:
        lines = []
        start = 0
        for _ in range(min(count, 10)):
            found = text.index(old, start)
            lines.append(str(text.count("\n", 0, found) + 1))
            start = found + 1
        raise UserError(
            f"The text to replace occurs {count} times in {path} (at lines "
            f"{', '.join(lines)}{', …' if count > 10 else ''}). Include more surrounding lines "
            f"in `old` to pick one, or pass replace_all=true to replace every occurrence."
        )
    return text.replace(old, new) if replace_all else text.replace(old, new, 1), count, first


def snippet_around(text: str, index: int, span: int, context: int = 3) -> tuple[str, int]:
    """Numbered lines around ``text[index:index+span]``; returns (snippet, first line number)."""
    first_line = text.count("\n", 0, index) + 1
    last_line = first_line + text.count("\n", index, index + span)
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # a final newline ends the last line; it does not start another
    if not lines or lines == [""]:
        return "(the file is now empty)", 1
    start = max(1, first_line - context)
    end = max(start, min(len(lines), last_line + context))
    return "\n".join(_numbered(n, lines[n - 1]) for n in range(start, end + 1)), start
