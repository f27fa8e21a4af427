"""Live streams for the scripted LLM: chunks written one by one over chunked transfer encoding.

``Reply(live=...)`` makes the scripted server stream its answer the way a real server does, in
the same chunk shapes (``chat.completion.chunk`` deltas, then ``data: [DONE]``), with:

- ``stall(before_s=...)``: the headers, then nothing for ``before_s`` (no first token);
- ``stall(after_chunks=n, for_s=...)``: ``n`` chunks, then silence mid-answer;
- ``endless(*units)``: the answer's chunks, then ``units`` in turn as deltas without end — the
  degenerate model that streams ``<|im_end|>`` lines for ever — until the client hangs up.

Each records how many chunks it wrote and whether the client hung up, so a test can show the
agent stopped reading rather than the stream ending by itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

ENDLESS_CAP = 200_000
TOKEN_INTERVAL_S = 0.001  # a fast real model's pace; also lets the client's thread run  # a safety net for a broken client: far beyond any guard's threshold


@dataclass
class LiveStream:
    before_s: float = 0.0
    after_chunks: int | None = None
    for_s: float = 0.0
    units: tuple[str, ...] = ()
    written: int = 0
    hung_up: bool = False

    def write(self, handler: Any, chunks: list[dict[str, Any]]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            handler.wfile.flush()
            time.sleep(self.before_s)
            body = chunks[:-1] if self.units else chunks
            for index, chunk in enumerate(body):
                if self.after_chunks is not None and index == self.after_chunks:
                    time.sleep(self.for_s)
                self._event(handler, chunk)
            if self.units:
                template = {k: v for k, v in chunks[0].items() if k != "choices"}
                for n in range(ENDLESS_CAP):
                    unit = self.units[n % len(self.units)]
                    delta = {"index": 0, "delta": {"content": unit}, "finish_reason": None}
                    self._event(handler, {**template, "choices": [delta]})
                    time.sleep(TOKEN_INTERVAL_S)
            self._raw(handler, b"data: [DONE]\n\n")
            self._raw(handler, b"")
        except (BrokenPipeError, ConnectionResetError):
            self.hung_up = True

    def _event(self, handler: Any, chunk: dict[str, Any]) -> None:
        self._raw(handler, f"data: {json.dumps(chunk)}\n\n".encode())
        self.written += 1

    @staticmethod
    def _raw(handler: Any, data: bytes) -> None:
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()


def stall(before_s: float = 0.0, *, after_chunks: int | None = None, for_s: float = 0.0) -> LiveStream:  # fmt: skip
    return LiveStream(before_s=before_s, after_chunks=after_chunks, for_s=for_s)


def endless(*units: str) -> LiveStream:
    """The answer's text, then ``units`` streamed in turn as content deltas without end."""
    return LiveStream(units=units)
