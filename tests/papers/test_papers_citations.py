"""papers_get(follow=...) against the fake Semantic Scholar Graph API: contexts, paging, cache, 429."""

from __future__ import annotations

import time

import pytest
from fakes.loopback import RunningFake
from fastmcp import Client
from fastmcp.exceptions import ToolError
from pydantic import SecretStr

from papers.results import data, text
from server.app import build_server
from server.errors import NotFoundError, UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.papers import core


async def test_references_carry_contexts_and_the_influential_flag(
    papers_settings: Settings, era: str
) -> None:
    async with Client(build_server(papers_settings), mode=era) as c:
        result = await c.call_tool("papers_get", {"arxiv_id": "2502.01234", "follow": "references"})
    refs = data(result)
    assert refs["direction"] == "references" and refs["next_offset"] is None
    first, classic, journal, unresolved = refs["papers"]
    assert first["arxiv_id"] == "2106.00042" and first["influential"] is True
    assert "LoRA uses rank r=16, alpha=32 as recommended by [1]." in first["contexts"]
    assert first["intents"] == ["methodology"]
    assert classic["influential"] is False and classic["arxiv_id"] == "1901.00007"
    assert journal["doi"] == "10.1000/xyz" and journal["arxiv_id"] is None
    assert unresolved["semantic_scholar_id"] is None and unresolved["contexts"] == []
    rendered = text(result)
    assert "★ Low-Rank Adapters" in rendered and "“LoRA uses rank r=16" in rendered


def test_citations_page_through_with_next_offset(
    papers_settings: Settings, store: StateStore
) -> None:
    first = core.citations(papers_settings, store, "2502.01234", "citations", limit=10)
    assert first.papers[0].arxiv_id == "2502.05678" and first.papers[0].influential
    assert first.next_offset == 10 and first.hint and "offset=10" in first.hint
    last = core.citations(papers_settings, store, "2502.01234", "citations", limit=10, offset=20)
    assert last.papers[0].title == "Follow-up study 20 on small-model fine-tuning"
    assert len(last.papers) == 5 and last.next_offset is None


def test_answers_are_cached_in_the_state_store_across_restarts(
    papers_settings: Settings, s2: RunningFake
) -> None:
    first = core.citations(papers_settings, StateStore(papers_settings.state_path), "2502.01234")
    assert first.cached is False
    # A new store object over the same file: what a restarted server would open.
    again = core.citations(papers_settings, StateStore(papers_settings.state_path), "2502.01234")
    assert again.cached is True and again.papers == first.papers
    assert len(s2.requests_to("/graph/v1/paper/")) == 1
    expired = papers_settings.model_copy(update={"citations_cache_ttl_s": 0})
    core.citations(expired, StateStore(papers_settings.state_path), "2502.01234")
    assert len(s2.requests_to("/graph/v1/paper/")) == 2


def test_a_429_with_retry_after_is_waited_out(
    papers_settings: Settings, store: StateStore, s2: RunningFake
) -> None:
    s2.faults.fail("/graph/v1/paper/", 429, headers={"Retry-After": "1"})
    started = time.monotonic()
    result = core.citations(papers_settings, store, "2502.01234")
    assert time.monotonic() - started >= 1.0  # honoured the server's Retry-After
    assert result.papers and len(s2.requests_to("/graph/v1/paper/")) == 2


async def test_persistent_429_is_reported_with_what_to_do(
    papers_settings: Settings, s2: RunningFake
) -> None:
    s2.faults.fail(
        "/graph/v1/paper/",
        429,
        times=10,
        headers={"Retry-After": "0"},
        body={"message": "Too Many Requests. Please wait and try again.", "code": "429"},
    )
    async with Client(build_server(papers_settings)) as c:
        with pytest.raises(ToolError, match=r"rate-limiting.*SEMANTIC_SCHOLAR_API_KEY"):
            await c.call_tool("papers_get", {"arxiv_id": "2502.01234", "follow": "references"})
    assert len(s2.requests_to("/graph/v1/paper/")) == 3


def test_a_retry_after_longer_than_we_wait_is_reported_at_once(
    papers_settings: Settings, store: StateStore, s2: RunningFake
) -> None:
    s2.faults.fail("/graph/v1/paper/", 429, headers={"Retry-After": "3600"})
    started = time.monotonic()
    with pytest.raises(UserError, match=r"Wait about 3600 s"):
        core.citations(papers_settings, store, "2502.01234")
    assert time.monotonic() - started < 2 and len(s2.requests_to("/graph/v1/paper/")) == 1


def test_unknown_paper_is_a_clear_not_found(papers_settings: Settings, store: StateStore) -> None:
    with pytest.raises(NotFoundError, match=r"Semantic Scholar has no paper arXiv:2503.99999"):
        core.citations(papers_settings, store, "2503.99999", "citations")


def test_rejected_api_key_is_named(
    papers_settings: Settings, store: StateStore, s2: RunningFake
) -> None:
    settings = papers_settings.model_copy(
        update={"semantic_scholar_api_key": SecretStr("s2-key-that-expired")}
    )
    s2.faults.fail("/graph/v1/paper/", 403, body={"message": "Forbidden"})
    with pytest.raises(UserError, match="rejected SEMANTIC_SCHOLAR_API_KEY"):
        core.citations(settings, store, "2502.01234")


def test_semantic_scholar_timeout_is_reported(
    papers_settings: Settings, store: StateStore, s2: RunningFake
) -> None:
    s2.faults.stall("/graph/v1/paper/", 3.0)
    settings = papers_settings.model_copy(update={"http_timeout_s": 0.3})
    with pytest.raises(UserError, match=r"Semantic Scholar did not answer within 0\.3 s"):
        core.citations(settings, store, "2502.01234")


def test_each_credential_reaches_only_its_own_service(
    papers_settings: Settings,
    store: StateStore,
    hub: RunningFake,
    arxiv_site: RunningFake,
    s2: RunningFake,
) -> None:
    settings = papers_settings.model_copy(
        update={
            "hf_token": SecretStr("hf_only_for_the_hub_1"),
            "semantic_scholar_api_key": SecretStr("s2_only_for_s2_2"),
        }
    )
    core.get_paper(settings, store, "2502.01234")
    core.citations(settings, store, "2502.01234")
    seen = {
        name: " ".join(str(r.headers) for r in fake.recorder.requests)
        for name, fake in (("hub", hub), ("arxiv", arxiv_site), ("s2", s2))
    }
    assert all(seen.values()), "every service should have been called"
    assert "hf_only_for_the_hub_1" in seen["hub"]
    assert "s2_only_for_s2_2" in seen["s2"]
    assert "hf_only_for_the_hub_1" not in seen["arxiv"] + seen["s2"]
    assert "s2_only_for_s2_2" not in seen["arxiv"] + seen["hub"]
