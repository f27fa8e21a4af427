"""One retry policy for every remote HTTP service the toolkits call.

Which answers are worth another try (rate limits and transient server errors), how long to wait
(what the server asks in Retry-After, else a short backoff), and when to stop: after a few
attempts, or at once when the server asks for a longer wait than a tool call should hang. The
toolkits turn the final answer into advice. GitHub is the exception: PyGithub retries inside
urllib3, configured by its own settings in ``toolkits/github/client.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

MAX_ATTEMPTS = 3
# Longest single wait we accept: past this a tool call would feel hung, so we report instead.
MAX_WAIT_S = 10.0
BACKOFF_S = (0.5, 1.5)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
RETRYABLE_STATUSES = TRANSIENT_STATUSES | {429}


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """The wait the server asks for in Retry-After (seconds), or None when it asks nothing usable.

    An HTTP-date Retry-After is rare for APIs and is treated as no answer.
    """
    raw = headers.get("retry-after") if headers is not None else None
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def wait_before_retry_s(headers: Mapping[str, str] | None, attempt: int) -> float:
    """How long to wait after failed attempt ``attempt`` (1-based): the server's ask, else backoff."""
    asked = retry_after_s(headers)
    if asked is not None:
        return asked
    return BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)]


def retry_wait_s(
    status: int | None,
    headers: Mapping[str, str] | None,
    attempt: int,
    retry_on: Collection[int] = RETRYABLE_STATUSES,
) -> float | None:
    """The wait before another attempt, or None when this answer is final.

    Final means: not a retryable status, the last attempt, or a server asking for more than
    ``MAX_WAIT_S`` (the caller reports that wait instead of sleeping through it).
    """
    if status not in retry_on or attempt >= MAX_ATTEMPTS:
        return None
    wait = wait_before_retry_s(headers, attempt)
    return wait if wait <= MAX_WAIT_S else None


def send_with_retries(
    call: Callable[[], httpx.Response],
    retry_on: Collection[int] = RETRYABLE_STATUSES,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Run ``call`` until its answer is final by ``retry_wait_s``; return that last answer.

    Transport errors (timeouts, refused connections) propagate: each caller words them for its
    own service.
    """
    attempt = 1
    while True:
        response = call()
        wait = retry_wait_s(response.status_code, response.headers, attempt, retry_on)
        if wait is None:
            return response
        sleep(wait)
        attempt += 1
