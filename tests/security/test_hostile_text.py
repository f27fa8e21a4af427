"""Text anyone can write (a README, a log line, a paper) passes through the server's own
patterns; none of them may take more than linear time on it.

Every tool output and everything written at rest goes through ``redact``; its URL-password
shape used to start a scan at every word boundary, so "a.a.a.a..." took quadratic time with the
GIL held (400 KB: minutes, every client stalled).
"""

from __future__ import annotations

import time

from server.redact import redact

HOSTILE = {
    "dotted words": "a." * 200_000,
    "dashed words": "a-" * 200_000,
    "schemes without users": "x://a:" * 70_000,
    "a user without an @": "s://u:" + "p" * 400_000,
}


def test_redaction_is_linear_on_hostile_text() -> None:
    for name, text in HOSTILE.items():
        started = time.monotonic()
        assert redact(text) == text  # nothing in it is a secret
        elapsed = time.monotonic() - started
        assert elapsed < 5, f"redacting {name} ({len(text)} chars) took {elapsed:.1f}s"


def test_passwords_in_urls_are_still_found() -> None:
    # Positive control for the narrowed start: each shape that was redacted still is.
    for url, password in (
        ("postgres://user:hunter2pw@db:5432/app", "hunter2pw"),
        ("see https://alice:s3cretpass@host/x for it", "s3cretpass"),
        ("(git+ssh://me:tokentoken@h)", "tokentoken"),
        ("a.postgres://u:pass-word-1@h", "pass-word-1"),
        ("_redis://u:redispass1@h", "redispass1"),
    ):
        assert redact(url) == url.replace(password, "[REDACTED:password]")
