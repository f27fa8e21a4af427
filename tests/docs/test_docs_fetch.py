"""docs_search(url=...): page markdown in chunks, only from allowed documentation hosts."""

from __future__ import annotations

import pytest
from fakes.loopback import RunningFake
from fastmcp import Client
from fastmcp.exceptions import ToolError
from papers.results import data, text

from server.app import build_server
from server.errors import NotFoundError, UserError
from server.settings import Settings
from toolkits.docs import core
from toolkits.docs.site import DocsSite


async def test_fetch_pages_through_markdown_with_next_offset(
    docs_settings: Settings, docs_fake: RunningFake, era: str
) -> None:
    url = f"{docs_fake.url}/docs/trl/sft_trainer"
    async with Client(build_server(docs_settings), mode=era) as c:
        first = await c.call_tool("docs_search", {"url": url, "max_chars": 600})
        page = data(first)
        assert page["title"] == "SFT Trainer" and page["text"].startswith("# SFT Trainer")
        assert page["truncated"] and page["next_offset"] == 600
        assert "offset=600" in text(first)
        rest = await c.call_tool("docs_search", {"url": url, "offset": 600, "max_chars": 15000})
    tail = data(rest)
    assert not tail["truncated"] and tail["next_offset"] is None
    # The second chunk came from the local cache, not from a second download.
    assert len(docs_fake.requests_to("/docs/trl/sft_trainer.md")) == 1
    assert page["text"] + tail["text"] == _markdown_of(docs_fake, "/docs/trl/sft_trainer.md")


def _markdown_of(fake: RunningFake, path: str) -> str:
    import httpx

    return httpx.get(fake.url + path).text


@pytest.mark.parametrize(
    "spelling",
    ["trl/dpo_trainer", "/docs/trl/dpo_trainer", "{base}/docs/trl/dpo_trainer.md#beta"],
)
def test_the_usual_spellings_of_a_page_resolve_to_it(
    docs_settings: Settings, docs_fake: RunningFake, spelling: str
) -> None:
    page = core.fetch_doc(docs_settings, spelling.format(base=docs_fake.url))
    assert page.url == f"{docs_fake.url}/docs/trl/dpo_trainer"
    assert page.title == "DPO Trainer" and "beta" in page.text


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/docs/trl/sft_trainer",
        "https://huggingface.co.evil.example/docs/trl/sft_trainer",
        "https://huggingface.co/api/whoami-v2",
        "{base}/api/models",
        "{base}/docs/../api/models",
        "{base}/docs/%2e%2e/api/models",
        "file:///etc/passwd",
    ],
)
def test_urls_off_the_allowlist_are_refused_without_a_request(
    docs_settings: Settings, docs_fake: RunningFake, url: str
) -> None:
    with pytest.raises(UserError, match="not a Hugging Face documentation page"):
        core.fetch_doc(docs_settings, url.format(base=docs_fake.url))
    assert docs_fake.recorder.requests == []


def test_the_public_docs_host_is_allowed_alongside_the_configured_one(
    docs_settings: Settings,
) -> None:
    with DocsSite(docs_settings) as site:
        assert (
            site.canonical("huggingface.co/docs/peft/developer_guides/lora#merging")
            == "https://huggingface.co/docs/peft/developer_guides/lora"
        )


def test_a_redirect_off_the_allowlist_is_not_followed(
    docs_settings: Settings, docs_fake: RunningFake
) -> None:
    docs_fake.faults.fail(
        "/docs/trl/sft_trainer.md", 302, headers={"Location": "https://evil.example.com/steal"}
    )
    with pytest.raises(UserError, match=r"evil\.example\.com.*not a Hugging Face documentation"):
        core.fetch_doc(docs_settings, "trl/sft_trainer")
    assert len(docs_fake.recorder.requests) == 1


async def test_a_missing_page_suggests_the_closest_indexed_one(
    docs_settings: Settings, docs_fake: RunningFake
) -> None:
    core.search_docs(docs_settings, "sft", "trl")
    async with Client(build_server(docs_settings)) as c:
        with pytest.raises(ToolError, match=r"Did you mean: .*/docs/trl/sft_trainer"):
            await c.call_tool("docs_search", {"url": "trl/sft_trainr"})


def test_a_missing_page_of_an_unindexed_library_suggests_docs_search(
    docs_settings: Settings,
) -> None:
    with pytest.raises(
        NotFoundError, match=r"docs_search\(query='<what you need>', library='peft'\)"
    ):
        core.fetch_doc(docs_settings, "peft/no_such_page")


def test_a_slow_docs_site_times_out(docs_settings: Settings, docs_fake: RunningFake) -> None:
    docs_fake.faults.stall("/docs/trl/sft_trainer.md", 3.0)
    settings = docs_settings.model_copy(update={"http_timeout_s": 0.3})
    with pytest.raises(UserError, match=r"did not answer within 0\.3 s"):
        core.fetch_doc(settings, "trl/sft_trainer")
