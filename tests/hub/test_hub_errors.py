"""What a caller is told when the Hub says no, fails, stalls or cannot be reached."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fakes.hub import FakeHub
from fastmcp.exceptions import ToolError
from helpers import free_port
from hub_world import WRITE_TOKEN, hub_client, out, settings_for

from server.settings import Settings

GPT2_INFO = "/api/models/openai-community/gpt2"


def calls_to(hub: FakeHub, path: str) -> int:
    return sum(1 for p in hub.recorder.paths() if p == path)


async def test_missing_repo_suggests_similar_ids(anon_settings: Settings, era: str) -> None:
    async with hub_client(anon_settings, era) as c:
        with pytest.raises(ToolError) as typo:
            await c.call_tool("hub_repo", {"op": "info", "repo_id": "openai-community/gtp2"})
    message = str(typo.value)
    assert "No model 'openai-community/gtp2'" in message
    assert "Similar models: openai-community/gpt2" in message
    assert "hub_search" in message


async def test_missing_repo_points_to_the_right_kind(anon_settings: Settings) -> None:
    async with hub_client(anon_settings) as c:
        with pytest.raises(ToolError, match="There is a dataset with this id: pass kind='dataset'"):
            await c.call_tool("hub_repo", {"op": "list", "repo_id": "stanfordnlp/imdb"})


async def test_private_repo_needs_the_owners_token(fake_hub: FakeHub, tmp_path: Path) -> None:
    args = {"op": "read", "repo_id": "alice/private-model", "path": "config.json"}
    async with hub_client(settings_for(fake_hub, tmp_path / "a")) as c:
        with pytest.raises(ToolError, match="private or gated and HF_TOKEN lacks access"):
            await c.call_tool("hub_repo", args)
    async with hub_client(settings_for(fake_hub, tmp_path / "b", WRITE_TOKEN)) as c:
        result = await c.call_tool("hub_repo", args)
    assert out(result)["text"] == "{}"


async def test_gated_repo_says_to_accept_its_conditions(anon_settings: Settings) -> None:
    async with hub_client(anon_settings) as c:
        with pytest.raises(ToolError, match=r"gated. Accept its conditions"):
            await c.call_tool(
                "hub_repo",
                {"op": "read", "repo_id": "meta-llama/Llama-gated", "path": "config.json"},
            )


async def test_rate_limit_is_retried_then_succeeds(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    fake_hub.fail(GPT2_INFO, 429, times=2, **{"Retry-After": "0"})
    async with hub_client(anon_settings) as c:
        result = await c.call_tool("hub_repo", {"op": "info", "repo_id": "openai-community/gpt2"})
    assert out(result)["id"] == "openai-community/gpt2"
    assert calls_to(fake_hub, GPT2_INFO) == 3


async def test_persistent_rate_limit_gives_up_after_bounded_retries(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    fake_hub.fail(GPT2_INFO, 429, times=10, **{"Retry-After": "0"})
    async with hub_client(anon_settings) as c:
        with pytest.raises(ToolError, match=r"rate-limiting requests \(429\).*3 attempts"):
            await c.call_tool("hub_repo", {"op": "info", "repo_id": "openai-community/gpt2"})
    assert calls_to(fake_hub, GPT2_INFO) == 3


async def test_a_long_retry_after_is_reported_not_waited(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    fake_hub.fail("/api/models", 429, times=10, **{"Retry-After": "3600"})
    async with hub_client(anon_settings) as c:
        started = time.monotonic()  # the toolkit is built: only the call is timed
        with pytest.raises(ToolError, match="Retry after 3600s"):
            await c.call_tool("hub_search", {"query": "gpt"})
    assert time.monotonic() - started < 5
    assert calls_to(fake_hub, "/api/models") == 1


async def test_server_errors_on_reads_are_retried(
    anon_settings: Settings, fake_hub: FakeHub
) -> None:
    fake_hub.fail("/api/models", 503, times=1, **{"Retry-After": "0"})
    async with hub_client(anon_settings) as c:
        result = await c.call_tool("hub_search", {"query": "gpt2"})
    assert [r["id"] for r in out(result)["results"]] == ["openai-community/gpt2"]
    fake_hub.fail("/api/models", 500, times=10, **{"Retry-After": "0"})
    async with hub_client(anon_settings) as c:
        with pytest.raises(ToolError, match=r"failed with 500.*retry in a minute"):
            await c.call_tool("hub_search", {"query": "gpt2"})


async def test_a_stalled_hub_times_out_with_advice(fake_hub: FakeHub, tmp_path: Path) -> None:
    settings = settings_for(fake_hub, tmp_path / "home", http_timeout_s=0.5)
    fake_hub.stall("/api/models", 5)
    async with hub_client(settings) as c:
        started = time.monotonic()  # the toolkit is built: only the call is timed
        with pytest.raises(ToolError, match=r"did not answer within 0.5s.*MLINTERN_HTTP_TIMEOUT_S"):
            await c.call_tool("hub_search", {"query": "gpt2"})
    assert time.monotonic() - started < 4


async def test_unreachable_hub_names_the_endpoint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(home=tmp_path / "home", hf_endpoint=endpoint, _env_file=None)  # type: ignore[call-arg]
    async with hub_client(settings) as c:
        with pytest.raises(ToolError, match=f"Cannot reach the Hub at {endpoint}"):
            await c.call_tool("hub_search", {"query": "gpt2"})


async def test_rejected_token_is_reported_without_showing_it(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    bad_token = "hf_expired_token_0123456789"
    settings = settings_for(fake_hub, tmp_path / "home", bad_token)
    async with hub_client(settings) as c:
        with pytest.raises(ToolError) as rejected:
            await c.call_tool("hub_search", {"query": "gpt2"})
    message = str(rejected.value)
    assert "HF_TOKEN was rejected (401)" in message and "settings/tokens" in message
    assert bad_token not in message
    assert fake_hub.recorder.requests[-1].headers["authorization"] == f"Bearer {bad_token}"
