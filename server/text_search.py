"""Searching text for a caller's pattern without letting the pattern hurt the server.

A pattern from a tool call is untrusted: a catastrophic regex (``(a+)+$``) can take minutes on
one line and, with ``re``, hold the GIL while it does. So a search is literal by default, and a
regex runs on the ``regex`` engine, which releases the GIL while matching and takes a timeout;
one search (every line it scans) shares a single deadline and ends with a clear error.
"""

from __future__ import annotations

import time

from server.errors import UserError

REGEX_TIME_LIMIT_S = 1.5


class TextMatcher:
    """Case-insensitive ``search`` for a literal string or a time-bounded regex."""

    def __init__(
        self, pattern: str, *, regex: bool = False, time_limit_s: float = REGEX_TIME_LIMIT_S
    ):
        self.pattern = pattern
        self.time_limit_s = time_limit_s
        self._deadline: float | None = None
        self._needle = pattern.casefold()
        self._compiled = None
        if regex:
            import regex as regex_engine

            try:
                self._compiled = regex_engine.compile(pattern, regex_engine.IGNORECASE)
            except regex_engine.error as exc:
                raise UserError(
                    f"{pattern!r} is not a valid regular expression ({exc}). Escape special "
                    "characters (e.g. 'loss\\\\['), or search literally (regex=false)."
                ) from None

    def search(self, text: str) -> bool:
        if self._compiled is None:
            return self._needle in text.casefold()
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.time_limit_s
        left = self._deadline - now
        try:
            if left <= 0:
                raise TimeoutError
            return self._compiled.search(text, timeout=left) is not None
        except TimeoutError:
            raise UserError(
                f"The regular expression {self.pattern!r} took over {self.time_limit_s:g}s and "
                "was stopped (nested repeats like '(a+)+' backtrack without end). Use a simpler "
                "pattern, or search literally (regex=false)."
            ) from None
