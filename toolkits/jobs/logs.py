"""Reading a job's log in bounded windows, with the noise taken out.

Offsets are byte positions in the raw log file rather than character positions in a cleaned
text: a log keeps growing while it is read and can be gigabytes long, and a raw offset stays
valid across calls and lets a window be read without scanning the whole file. Cleaning strips
terminal escapes, keeps only the final state of carriage-return progress bars, and collapses
runs of progress lines (pip, tqdm, downloads) and of repeated lines.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from server.output_caps import clip_value
from server.text_search import TextMatcher

LOG_FILE = "output.log"
RUNNER_NOTE_PREFIX = "[mlintern] "  # lines the local runner adds
MAX_LINE_CHARS = 1000
_TAIL_WINDOW_START = 64 * 1024
_TAIL_WINDOW_MAX = 16 * 1024 * 1024
_GREP_SCAN_MAX = 64 * 1024 * 1024
_FORWARD_CHUNK = 4 * 1024 * 1024

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
_PROGRESS = re.compile(
    r"\d{1,3}%\s*\|"  # tqdm: " 45%|████▌     | 45/100"
    r"|\|[█▏▎▍▌▋▊▉#▓░ ]{4,}\|"  # bare bars
    r"|[━─]{8,}"  # pip / rich bars
    r"|\d+(?:\.\d+)?\s*[kMG]i?B/s"  # download rates
    r"|\b\d+/\d+ \[\d+:\d\d"  # tqdm counters "3/100 [00:01<...]"
)


@dataclass
class LogLine:
    text: str
    offset: int  # byte offset where the raw line starts
    end: int  # byte offset just after it


@dataclass
class Window:
    lines: list[LogLine]
    collapsed: int
    consumed_to: int  # raw offset up to which the file was read


def progress_label(line: str) -> str | None:
    """The label of a progress line (what it is the progress of), None if not one.

    Consecutive progress lines collapse only while their label stays the same, so a finished
    download is not swallowed by the training bar that follows it.
    """
    match = _PROGRESS.search(line)
    if match is None:
        return None
    return re.sub(r"[\d.]+", "#", line[: match.start()]).strip()


def _raw_lines(path: Path, start: int, stop: int, final: bool) -> Iterator[tuple[int, int, str]]:
    """(start, end, text) of each line in [start, stop). The last, unterminated line counts only
    when ``final`` (the job has ended and will not finish writing it)."""
    with path.open("rb") as handle:
        handle.seek(start)
        position = start
        carry = b""
        while position < stop:
            chunk = handle.read(min(_FORWARD_CHUNK, stop - position))
            if not chunk:
                break
            position += len(chunk)
            data = carry + chunk
            base = position - len(data)
            cursor = 0
            while True:
                newline = data.find(b"\n", cursor)
                if newline < 0:
                    break
                yield (
                    base + cursor,
                    base + newline + 1,
                    data[cursor:newline].decode("utf-8", "replace"),
                )
                cursor = newline + 1
            carry = data[cursor:]
        if carry and final:
            end = position
            yield end - len(carry), end, carry.decode("utf-8", "replace")


def _visible(text: str, redact: Callable[[str], str]) -> str:
    text = _ANSI.sub("", text)
    if "\r" in text:  # a terminal shows only what was drawn last
        parts = [part for part in text.split("\r") if part.strip()]
        text = parts[-1] if parts else ""
    # Redact before clipping: a secret cut by the clip would otherwise show its prefix.
    return clip_value(redact(text.rstrip()), MAX_LINE_CHARS)


def clean(raw: Iterator[tuple[int, int, str]], redact: Callable[[str], str]) -> Iterator[LogLine]:
    """Cleaned lines; a collapsed run shows as its last line plus a note of what was dropped."""
    pending: LogLine | None = None
    pending_kind = ""  # "progress" or "repeat"
    pending_label: str | None = None
    run = 0

    def flush() -> Iterator[LogLine]:
        if pending is None:
            return
        if run and pending_kind == "progress":
            pending.text += f"  [{run} earlier progress updates collapsed]"
        yield pending
        if run and pending_kind == "repeat":
            yield LogLine(f"[previous line repeated {run} more times]", pending.end, pending.end)

    for start, end, text in raw:
        line = LogLine(_visible(text, redact), start, end)
        label = progress_label(line.text)
        if pending is not None and pending_kind == "progress" and label == pending_label:
            run += 1
            pending = line
            continue
        if pending is not None and label is None and line.text == pending.text and line.text:
            run += 1
            pending_kind = "repeat"
            pending.end = end
            continue
        yield from flush()
        pending, pending_label, run = line, label, 0
        pending_kind = "progress" if label is not None else ""
    yield from flush()


def _count_collapsed(lines: list[LogLine]) -> int:
    total = 0
    for line in lines:
        match = re.search(r"\[(\d+) earlier progress updates collapsed\]$", line.text) or re.match(
            r"\[previous line repeated (\d+) more times\]$", line.text
        )
        total += int(match.group(1)) if match else 0
    return total


def compile_grep(pattern: str | None, regex: bool = False) -> TextMatcher | None:
    return TextMatcher(pattern, regex=regex) if pattern else None


def _fit(lines: list[LogLine], max_chars: int, keep_newest: bool) -> list[LogLine]:
    """As many lines as fit in ``max_chars`` (the newest or the oldest ones)."""
    kept: list[LogLine] = []
    used = 0
    for line in reversed(lines) if keep_newest else lines:
        used += len(line.text) + 1
        if used > max_chars and kept:
            break
        kept.append(line)
    return list(reversed(kept)) if keep_newest else kept


def read_tail(
    path: Path,
    *,
    lines: int,
    max_chars: int,
    final: bool,
    redact: Callable[[str], str],
    grep: TextMatcher | None = None,
) -> Window:
    """The last ``lines`` cleaned lines (matching ``grep`` if given)."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return Window([], 0, 0)
    if grep is not None:
        start = _line_start(path, max(0, size - _GREP_SCAN_MAX))
        matches: deque[LogLine] = deque(maxlen=lines)
        for line in clean(_raw_lines(path, start, size, final), redact):
            if grep.search(line.text):
                matches.append(line)
        chosen = _fit(list(matches), max_chars, keep_newest=True)
        return Window(chosen, _count_collapsed(chosen), complete_end(path, size, final))
    window = _TAIL_WINDOW_START
    while True:
        start = _line_start(path, max(0, size - max(window, lines * 200)))
        cleaned = list(clean(_raw_lines(path, start, size, final), redact))
        if len(cleaned) > lines or start == 0 or window >= _TAIL_WINDOW_MAX:
            break
        window *= 4
    chosen = _fit(cleaned[-lines:], max_chars, keep_newest=True)
    return Window(chosen, _count_collapsed(chosen), complete_end(path, size, final))


def read_forward(
    path: Path,
    *,
    offset: int,
    lines: int,
    max_chars: int,
    final: bool,
    redact: Callable[[str], str],
    grep: TextMatcher | None = None,
) -> Window:
    """Up to ``lines`` cleaned lines starting at raw byte ``offset`` (moved to a line start)."""
    size = path.stat().st_size if path.exists() else 0
    if offset >= size:
        return Window([], 0, min(offset, size))
    start = _line_start(path, offset)
    chosen: list[LogLine] = []
    used = 0
    consumed = start
    for line in clean(_raw_lines(path, start, size, final), redact):
        if grep is not None and not grep.search(line.text):
            consumed = line.end
            continue
        used += len(line.text) + 1
        if len(chosen) >= lines or (used > max_chars and chosen):
            break
        chosen.append(line)
        consumed = line.end
    return Window(chosen, _count_collapsed(chosen), consumed)


def complete_end(path: Path, size: int, final: bool) -> int:
    """Where a follow-up read should start: after the last complete line (or at the end)."""
    if final or size == 0:
        return size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _TAIL_WINDOW_START))
        data = handle.read()
    newline = data.rfind(b"\n")
    return size - len(data) + newline + 1 if newline >= 0 else max(0, size - len(data))


def _line_start(path: Path, offset: int) -> int:
    """``offset`` moved forward to the start of a line (unchanged if it already is one)."""
    if offset <= 0:
        return 0
    with path.open("rb") as handle:
        handle.seek(offset - 1)
        if handle.read(1) == b"\n":
            return offset
        rest = handle.read(_TAIL_WINDOW_MAX)
        newline = rest.find(b"\n")
        return offset + newline + 1 if newline >= 0 else offset + len(rest)


def last_line(path: Path, redact: Callable[[str], str]) -> str | None:
    """The last non-empty cleaned line, for a health summary."""
    window = read_tail(path, lines=5, max_chars=8000, final=True, redact=redact)
    # The runner's own closing note repeats the status; the job's last words say more.
    texts = [
        line.text
        for line in window.lines
        if line.text.strip() and not line.text.startswith(RUNNER_NOTE_PREFIX)
    ]
    return clip_value(texts[-1], 200) if texts else None
