"""papers_search (a query, or the trending list without one) against the fake Hugging Face papers API, via HfApi."""

from __future__ import annotations

import time

import pytest
from fakes.loopback import RunningFake
from fastmcp import Client
from fastmcp.exceptions import ToolError
from helpers import free_port
from pydantic import SecretStr

from papers.results import data, text
from server.app import build_server
from server.errors import UserError
from server.settings import Settings
from toolkits.papers import core


async def test_search_through_mcp_ranks_the_recipe_paper_first(
    papers_settings: Settings, era: str
) -> None:
    async with Client(build_server(papers_settings), mode=era) as c:
        result = await c.call_tool("papers_search", {"query": "supervised fine-tuning recipe"})
    papers = data(result)["papers"]
    assert papers[0]["arxiv_id"] == "2502.01234"
    assert papers[0]["published"] == "2025-02-03"
    assert papers[0]["authors"][:2] == ["Ada Moreau", "Kenji Watanabe"]
    rendered = text(result)
    assert "arXiv:2502.01234" in rendered and "papers_get(arxiv_id=" in rendered


def test_date_range_filters_on_publication_date(papers_settings: Settings) -> None:
    everything = core.search_papers(papers_settings, "low-rank adapters LoRA")
    assert "2106.00042" in [p.arxiv_id for p in everything.papers]
    recent = core.search_papers(papers_settings, "low-rank adapters LoRA", date_from="2025-01-01")
    assert recent.papers and all(p.published >= "2025-01-01" for p in recent.papers)  # type: ignore[operator]
    assert "2106.00042" not in [p.arxiv_id for p in recent.papers]
    old = core.search_papers(papers_settings, "LoRA", date_from="2021-01-01", date_to="2021-12-31")
    assert [p.arxiv_id for p in old.papers] == ["2106.00042"]


def test_paging_gives_next_offset_until_the_end(papers_settings: Settings) -> None:
    first = core.search_papers(papers_settings, "small fine-tuning models", limit=1)
    assert len(first.papers) == 1 and first.next_offset == 1
    assert first.hint and "offset=1" in first.hint
    rest = core.search_papers(papers_settings, "small fine-tuning models", limit=10, offset=1)
    assert first.papers[0].arxiv_id not in [p.arxiv_id for p in rest.papers]
    assert rest.next_offset is None and rest.hint is None


def test_no_match_is_an_empty_list_with_advice(papers_settings: Settings) -> None:
    result = core.search_papers(papers_settings, "quantum chromodynamics")
    assert result.papers == [] and result.note and "broader" in result.note


def test_reversed_date_range_is_refused(papers_settings: Settings) -> None:
    with pytest.raises(UserError, match="after date_to"):
        core.search_papers(papers_settings, "lora", date_from="2025-02-01", date_to="2025-01-01")


def test_search_sends_the_token_to_the_hub(papers_settings: Settings, hub: RunningFake) -> None:
    settings = papers_settings.model_copy(update={"hf_token": SecretStr("hf_secret_token_123")})
    core.search_papers(settings, "fine-tuning")
    [request] = hub.requests_to("/api/papers/search")
    assert request.headers.get("authorization") == "Bearer hf_secret_token_123"


async def test_rate_limit_is_retried_then_reported(
    papers_settings: Settings, hub: RunningFake
) -> None:
    hub.faults.fail("/api/papers/search", 429, times=5, headers={"Retry-After": "0"})
    async with Client(build_server(papers_settings)) as c:
        with pytest.raises(ToolError, match=r"rate-limiting.*HF_TOKEN"):
            await c.call_tool("papers_search", {"query": "lora"})
    assert len(hub.requests_to("/api/papers/search")) == 3  # bounded: three attempts, no more


def test_one_rate_limited_answer_is_retried_transparently(
    papers_settings: Settings, hub: RunningFake
) -> None:
    hub.faults.fail("/api/papers/search", 429, headers={"Retry-After": "0"})
    result = core.search_papers(papers_settings, "fine-tuning")
    assert result.papers and len(hub.requests_to("/api/papers/search")) == 2


def test_rejected_token_says_which_token(papers_settings: Settings, hub: RunningFake) -> None:
    settings = papers_settings.model_copy(update={"hf_token": SecretStr("hf_revoked_token_456")})
    hub.faults.fail("/api/papers/search", 401, body={"error": "Invalid credentials"})
    with pytest.raises(UserError, match="HF_TOKEN was rejected"):
        core.search_papers(settings, "lora")


def test_hub_that_hangs_times_out_within_the_budget(
    papers_settings: Settings, hub: RunningFake
) -> None:
    hub.faults.stall("/api/papers/search", 3.0)
    settings = papers_settings.model_copy(update={"http_timeout_s": 0.3})
    started = time.monotonic()
    with pytest.raises(UserError, match=r"did not answer within 0\.3 ?s"):
        core.search_papers(settings, "lora")
    assert time.monotonic() - started < 2.9  # the fake stalls for 3 s


def test_unreachable_hub_names_the_setting(papers_settings: Settings) -> None:
    settings = papers_settings.model_copy(update={"hf_endpoint": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(UserError, match=r"Cannot reach the Hub.*MLINTERN_HF_ENDPOINT"):
        core.search_papers(settings, "lora")


async def test_trending_lists_the_latest_day_most_upvoted_first(
    papers_settings: Settings, era: str
) -> None:
    async with Client(build_server(papers_settings), mode=era) as c:
        result = await c.call_tool("papers_search", {})
    papers = data(result)["papers"]
    assert [p["arxiv_id"] for p in papers] == ["2502.01234", "2502.05678"]
    assert papers[0]["upvotes"] > papers[1]["upvotes"]


def test_trending_on_a_given_day_and_a_day_without_papers(papers_settings: Settings) -> None:
    day = core.trending_papers(papers_settings, "2021-06-02")
    assert [p.arxiv_id for p in day.papers] == ["2106.00042"]
    empty = core.trending_papers(papers_settings, "2025-02-08")
    assert empty.papers == [] and empty.note and "weekends" in empty.note


async def test_trending_rejects_a_malformed_date(papers_settings: Settings) -> None:
    async with Client(build_server(papers_settings)) as c:
        bad = await c.call_tool("papers_search", {"date_from": "04/02/2025"}, raise_on_error=False)
    assert bad.is_error
    assert "date_from" in bad.content[0].text and "should match pattern" in bad.content[0].text


async def test_trending_is_one_day_and_says_so_for_a_range(papers_settings: Settings) -> None:
    async with Client(build_server(papers_settings)) as c:
        day = await c.call_tool("papers_search", {"date_from": "2021-06-02"})
        assert [p["arxiv_id"] for p in data(day)["papers"]] == ["2106.00042"]
        with pytest.raises(ToolError, match="Without a query this lists one day's trending"):
            await c.call_tool("papers_search", {"date_from": "2021-06-01", "date_to": "2021-06-09"})


def test_trending_reports_a_persistent_server_error(
    papers_settings: Settings, hub: RunningFake
) -> None:
    hub.faults.fail("/api/daily_papers", 503, times=3, headers={"Retry-After": "0"})
    with pytest.raises(UserError, match="failed with 503"):
        core.trending_papers(papers_settings)
    assert len(hub.requests_to("/api/daily_papers")) == 3


def test_trending_rides_out_one_server_error(papers_settings: Settings, hub: RunningFake) -> None:
    hub.faults.fail("/api/daily_papers", 502)  # no Retry-After: our own short backoff applies
    assert core.trending_papers(papers_settings).papers
