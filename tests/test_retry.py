"""The shared retry policy: which answers are retried, how long it waits, when it gives up."""

from __future__ import annotations

import httpx
import pytest

from server.retry import MAX_ATTEMPTS, MAX_WAIT_S, retry_wait_s, send_with_retries


def answers(*statuses: int, retry_after: str | None = None) -> list[httpx.Response]:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return [httpx.Response(status, headers=headers) for status in statuses]


def run(responses: list[httpx.Response], **kwargs) -> tuple[httpx.Response, list[float], int]:
    waits: list[float] = []
    calls = iter(responses)
    sent = 0

    def call() -> httpx.Response:
        nonlocal sent
        sent += 1
        return next(calls)

    final = send_with_retries(call, sleep=waits.append, **kwargs)
    return final, waits, sent


def test_transient_errors_are_retried_with_backoff_until_an_answer() -> None:
    final, waits, sent = run(answers(503, 502, 200))
    assert final.status_code == 200 and sent == 3
    assert waits == [0.5, 1.5]


def test_gives_up_after_the_last_attempt_and_returns_that_answer() -> None:
    final, waits, sent = run(answers(500, 500, 500, 200))
    assert final.status_code == 500 and sent == MAX_ATTEMPTS and len(waits) == MAX_ATTEMPTS - 1


def test_the_servers_retry_after_is_honoured() -> None:
    final, waits, _ = run(answers(429, 200, retry_after="2"))
    assert final.status_code == 200 and waits == [2.0]


def test_a_wait_longer_than_a_tool_call_should_hang_is_returned_not_slept() -> None:
    final, waits, sent = run(answers(429, 200, retry_after=str(int(MAX_WAIT_S) + 1)))
    assert final.status_code == 429 and waits == [] and sent == 1


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 422])
def test_final_answers_are_not_retried(status: int) -> None:
    final, waits, sent = run(answers(status, 200))
    assert final.status_code == status and sent == 1 and waits == []


def test_writes_can_narrow_what_is_retried() -> None:
    # A write that met a 5xx may have happened: only a 429 (refused before acting) is retried.
    final, _, sent = run(answers(503, 200), retry_on={429})
    assert final.status_code == 503 and sent == 1


def test_an_http_date_retry_after_falls_back_to_backoff() -> None:
    headers = {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}
    assert retry_wait_s(503, headers, attempt=1) == 0.5
    assert retry_wait_s(503, headers, attempt=MAX_ATTEMPTS) is None
    assert retry_wait_s(None, None, attempt=1) is None  # no answer at all: nothing to retry
