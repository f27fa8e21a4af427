"""GitHub failing in the ways it does: rate limits, 5xx, slowness, bad tokens, no service.

Each case drives the real PyGithub retry machinery against the fake and checks that the caller
gets a message saying what happened and what to do, within a bounded time.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from fakes.github_api import PRIMARY_RATE_LIMIT, SECONDARY_RATE_LIMIT, FakeGitHub
from github_support import TOKEN, github_settings, mcp_client, sample_world, text_of
from helpers import free_port

from server.errors import UserError
from toolkits.github import core

README = "/repos/huggingface/trl/contents/README.md"


def read_readme(tmp_path: Path, fake: FakeGitHub, **overrides) -> core.FileWindow:
    return core.read_file(
        github_settings(tmp_path, fake, **overrides), "huggingface/trl", "README.md"
    )


def test_429_with_retry_after_is_retried_then_succeeds(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.fail(README, 429, SECONDARY_RATE_LIMIT, times=1, Retry_After="0")
        window = read_readme(tmp_path, fake)
    assert window.text.startswith("# TRL")
    assert fake.paths_requested(README) == [README, README]


def test_rate_limit_that_persists_stops_after_the_configured_retries(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.fail(README, 429, SECONDARY_RATE_LIMIT, times=10, Retry_After="0")
        with pytest.raises(
            UserError, match=r"rate limit was hit .429. and was still in force after 2"
        ):
            read_readme(tmp_path, fake)
    assert len(fake.paths_requested(README)) == 3  # the call and 2 retries


def test_long_retry_after_is_reported_not_slept(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.fail(README, 429, SECONDARY_RATE_LIMIT, times=10, Retry_After="3600")
        started = time.monotonic()
        with pytest.raises(UserError, match=r"asks to wait 60 min.*MLINTERN_GITHUB_MAX_WAIT_S"):
            read_readme(tmp_path, fake)
    assert time.monotonic() - started < 3
    assert len(fake.paths_requested(README)) == 1


def test_secondary_limit_without_retry_after_is_reported_at_once(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.fail(README, 403, SECONDARY_RATE_LIMIT, times=10)
        with pytest.raises(UserError, match=r"rate limit was hit \(403\) and it asks to wait 60 s"):
            read_readme(tmp_path, fake)
    assert len(fake.paths_requested(README)) == 1


def test_exhausted_primary_limit_names_the_reset_and_the_token(tmp_path: Path) -> None:
    reset = int(time.time()) + 1800
    with FakeGitHub() as fake:
        sample_world(fake)
        headers = {"X_RateLimit_Remaining": "0", "X_RateLimit_Reset": str(reset)}
        fake.fail(README, 403, PRIMARY_RATE_LIMIT, times=10, **headers)
        with pytest.raises(UserError) as raised:
            read_readme(tmp_path, fake, github_token=None)
    message = str(raised.value)
    assert "resets at" in message and time.strftime("%H:%M", time.gmtime(reset)) in message
    assert "60 per hour" in message and "export GITHUB_TOKEN=" in message
    assert len(fake.paths_requested(README)) == 1  # a 30-minute wait is not worth retrying


def test_server_errors_are_retried_and_then_explained(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.fail(README, 502, "Server Error", times=2)
        assert read_readme(tmp_path, fake).text.startswith("# TRL")
        fake.fail(README, 503, "Service Unavailable", times=10)
        with pytest.raises(UserError, match=r"answered 503 .* after 2 retries.*Try again"):
            read_readme(tmp_path, fake)


def test_rejected_token_says_so_without_echoing_it(tmp_path: Path) -> None:
    with FakeGitHub(token="ghp_theRealOne000000000000") as fake:
        sample_world(fake)
        with pytest.raises(UserError) as raised:
            read_readme(tmp_path, fake)
    message = str(raised.value)
    assert "GitHub rejected GITHUB_TOKEN (401: Bad credentials)" in message
    assert "github.com/settings/tokens" in message and TOKEN not in message


def test_forbidden_explains_token_permissions(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.fail(README, 403, "Resource not accessible by personal access token")
        with pytest.raises(UserError, match=r"refused access .403.*lacks permission"):
            read_readme(tmp_path, fake)
    assert len(fake.paths_requested(README)) == 1  # a plain 403 is not retried


def test_slow_github_times_out_with_a_clear_message(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.slow(README, delay_s=3)
        started = time.monotonic()
        with pytest.raises(UserError, match=r"did not answer within 1 s.*MLINTERN_HTTP_TIMEOUT_S"):
            read_readme(tmp_path, fake, http_timeout_s=1)
    assert time.monotonic() - started < 2.9  # the fake answers only after 3 s


def test_unreachable_api_names_the_url(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = github_settings(tmp_path, None, github_api_url=closed)
    with pytest.raises(UserError, match=f"Cannot reach the GitHub API at {closed}"):
        core.list_repos(settings, "huggingface")


async def test_a_slow_call_does_not_block_other_calls(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.slow(README, delay_s=2.0)
        finished: list[str] = []
        async with mcp_client(github_settings(tmp_path, fake)) as client:

            async def call(name: str, arguments: dict) -> None:
                await client.call_tool(name, arguments)
                finished.append(arguments.get("path", name))

            async with anyio.create_task_group() as group:
                group.start_soon(
                    call, "github_read_file", {"repo": "huggingface/trl", "path": "README.md"}
                )
                await anyio.sleep(0.2)  # the slow call is in flight
                group.start_soon(call, "github_list_repos", {"owner": "huggingface"})
    assert finished == ["github_list_repos", "README.md"]


async def test_tool_errors_reach_the_model_as_tool_errors(tmp_path: Path, era: str) -> None:
    with FakeGitHub(token=TOKEN) as fake:
        sample_world(fake)
        fake.fail(README, 503, "Service Unavailable", times=10)
        async with mcp_client(github_settings(tmp_path, fake), era) as client:
            result = await client.call_tool(
                "github_read_file",
                {"repo": "huggingface/trl", "path": "README.md"},
                raise_on_error=False,
            )
    assert result.is_error
    assert "answered 503" in text_of(result) and "Internal error" not in text_of(result)
