"""Bounded capture of one output stream (stdout or stderr) of a sandboxed command.

A command may print 100 MB; the server must not hold it. Up to ``cap_bytes`` the stream is
kept in memory whole. Past the cap only its head and tail stay in memory (what a model reads
first: how it started and how it ended), and the full text goes to a spill file on the
server's disk, up to ``spill_limit`` bytes, which the caller then moves into the workspace
so the rest can be paged with sandbox_files.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

# The tail is what usually matters (the traceback, the final metric), so it gets more room.
HEAD_SHARE = 0.25


class OutputCapture:
    def __init__(self, cap_bytes: int, spill_path: Path | None, spill_limit: int):
        self.cap_bytes = cap_bytes
        self.spill_path = spill_path
        self.spill_limit = spill_limit
        self.total_bytes = 0
        self.total_lines = 0
        self.spilled_bytes = 0
        self.spill_error: str | None = None
        self._whole = bytearray()  # everything, while the stream fits under the cap
        self._head = b""
        self._tail = bytearray()
        self._tail_cap = cap_bytes - int(cap_bytes * HEAD_SHARE)
        self._spill: BinaryIO | None = None
        self._over_cap = False

    @property
    def truncated(self) -> bool:
        return self.total_bytes > self.cap_bytes

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.total_bytes += len(chunk)
        self.total_lines += chunk.count(b"\n")
        if self.total_bytes <= self.cap_bytes:
            self._whole += chunk
            return
        if not self._over_cap:
            # First chunk past the cap: switch from "keep everything" to head + tail + spill.
            self._over_cap = True
            everything = bytes(self._whole) + chunk
            self._whole = bytearray()
            self._head = everything[: self.cap_bytes - self._tail_cap]
            self._tail = bytearray(everything[-self._tail_cap :])
            self._spill_write(everything)
            return
        self._tail += chunk
        if len(self._tail) > 2 * self._tail_cap:  # trim in batches, not on every chunk
            del self._tail[: len(self._tail) - self._tail_cap]
        self._spill_write(chunk)

    def _spill_write(self, data: bytes) -> None:
        if self.spill_path is None or self.spill_error is not None:
            return
        room = self.spill_limit - self.spilled_bytes
        if room <= 0:
            return
        try:
            if self._spill is None:
                self.spill_path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.spill_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                self._spill = os.fdopen(fd, "wb")
            # Plain buffered writes to the page cache: cheaper on the event loop than a thread
            # hop per 64 KiB chunk, and never waiting on anything but local memory.
            self._spill.write(data[:room])
            self.spilled_bytes += min(len(data), room)
        except OSError as exc:
            self.spill_error = f"could not save the full output: {exc.strerror or exc}"
            self._close_spill()

    def _close_spill(self) -> None:
        if self._spill is not None:
            with contextlib.suppress(OSError):
                self._spill.close()
            self._spill = None

    def finish(self) -> Path | None:
        """Close the spill file; return it when it holds the stream's text, else None."""
        self._close_spill()
        if self.spill_path is None or not self.spill_path.exists():
            return None
        if self.truncated and self.spill_error is None:
            return self.spill_path
        self.spill_path.unlink(missing_ok=True)  # a partial copy would only mislead
        return None

    @property
    def tail_start_line(self) -> int:
        """1-based line number in the full text at which the kept tail's first whole line starts."""
        # The tail ends where the full text ends, so counting its newlines back from the
        # stream's total gives the line it starts on.
        return max(1, self.total_lines - self.tail_bytes().count(b"\n") + 1)

    def tail_bytes(self) -> bytes:
        tail = bytes(self._tail[-self._tail_cap :])
        # Drop the partial first line so the tail starts on a line boundary.
        cut = tail.find(b"\n")
        return tail[cut + 1 :] if 0 <= cut < len(tail) - 1 else tail

    def text(self) -> str:
        if not self.truncated:
            return self._whole.decode("utf-8", errors="replace")
        dropped = self.total_bytes - len(self._head) - len(self.tail_bytes())
        return (
            self._head.decode("utf-8", errors="replace")
            + f"\n… [{dropped} bytes not shown; tail from line {self.tail_start_line}] …\n"
            + self.tail_bytes().decode("utf-8", errors="replace")
        )

    def last_line(self, max_chars: int = 120) -> str:
        data = bytes(self._whole[-2048:]) if not self.truncated else bytes(self._tail[-2048:])
        lines = [line for line in data.decode("utf-8", errors="replace").splitlines() if line]
        return lines[-1][:max_chars] if lines else ""
