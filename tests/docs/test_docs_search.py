"""docs_search: an FTS5/BM25 index built from the fake docs site's sidebar and page markdown."""

from __future__ import annotations

import time

import pytest
from fakes.docs_site import DocPage, FakeDocsSite
from fakes.loopback import RunningFake
from fastmcp import Client
from fastmcp.exceptions import ToolError
from helpers import free_port
from papers.results import data, text
from pydantic import SecretStr

from server.app import build_server
from server.errors import UserError
from server.settings import Settings
from toolkits.docs import core


class Clock:
    """Time a test can move forward, to age the index past its TTL."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_search_builds_the_index_with_progress_and_finds_the_page(
    docs_settings: Settings, docs_fake: RunningFake, era: str
) -> None:
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    server = build_server(docs_settings)
    async with Client(server, mode=era, progress_handler=on_progress) as c:
        result = await c.call_tool("docs_search", {"query": "SFTTrainer packing", "library": "trl"})
    hits = data(result)["hits"]
    assert hits[0]["url"] == f"{docs_fake.url}/docs/trl/sft_trainer"
    assert hits[0]["title"] == "SFT Trainer" and hits[0]["section"] == "Trainers"
    assert "**SFTTrainer**" in hits[0]["snippet"]  # matched words are marked
    assert progress and progress[-1] == (3, 3)  # three trl pages read
    assert "docs_search(url=...)" in text(result)


def test_only_sidebar_pages_of_the_library_are_indexed(
    docs_settings: Settings, docs_fake: RunningFake
) -> None:
    result = core.search_docs(docs_settings, "trainer", "trl", limit=30)
    urls = {hit.url for hit in result.hits}
    assert urls <= {
        f"{docs_fake.url}/docs/trl/{p}" for p in ("index", "sft_trainer", "dpo_trainer")
    }
    # The top bar links other libraries and the Hub; none of them was fetched.
    fetched = [r.path for r in docs_fake.recorder.requests]
    assert not [p for p in fetched if not p.startswith("/docs/trl")]


def test_bm25_prefers_the_page_about_the_topic(docs_settings: Settings) -> None:
    result = core.search_docs(docs_settings, "LoRA rank alpha")
    assert result.hits[0].url.endswith("/docs/peft/developer_guides/lora")
    # The SFT page mentions LoraConfig in passing: found, but ranked below.
    urls = [hit.url for hit in result.hits]
    assert any(u.endswith("/docs/trl/sft_trainer") for u in urls)
    assert result.hits[0].score > result.hits[-1].score
    titled = core.search_docs(docs_settings, "Trainer", "transformers")
    assert titled.hits[0].title == "Trainer"  # a title match outweighs body mentions


def test_without_library_the_common_libraries_are_searched(docs_settings: Settings) -> None:
    result = core.search_docs(docs_settings, "load a dataset")
    assert set(result.libraries) == {"transformers", "trl", "peft", "datasets", "hub"}
    assert result.hits[0].url.endswith("/docs/datasets/loading")


def test_the_index_is_reused_until_its_ttl_then_refreshed(
    docs_settings: Settings, docs_fake: RunningFake, site: FakeDocsSite
) -> None:
    clock = Clock()
    core.search_docs(docs_settings, "DPO", "trl", clock=clock)
    site.libraries["trl"].append(
        DocPage("Trainers", "grpo_trainer", "GRPO Trainer", "# GRPO Trainer\n\nGroup relative.")
    )
    docs_fake.reset()
    clock.now += docs_settings.docs_index_ttl_s - 60
    cached = core.search_docs(docs_settings, "GRPO group relative", "trl", clock=clock)
    assert cached.hits == [] and docs_fake.recorder.requests == []  # no network within the TTL
    clock.now += 120
    refreshed = core.search_docs(docs_settings, "GRPO group relative", "trl", clock=clock)
    assert refreshed.hits[0].url.endswith("/docs/trl/grpo_trainer")


def test_an_old_index_is_used_when_the_site_is_down(
    docs_settings: Settings, docs_fake: RunningFake
) -> None:
    clock = Clock()
    core.search_docs(docs_settings, "SFT", "trl", clock=clock)
    clock.now += docs_settings.docs_index_ttl_s + 86400
    docs_fake.faults.fail("/docs/trl", 503, times=3, headers={"Retry-After": "0"})
    result = core.search_docs(docs_settings, "SFTTrainer", "trl", clock=clock)
    assert result.hits[0].url.endswith("/docs/trl/sft_trainer")
    assert any("could not be refreshed" in note for note in result.notes)


def test_a_page_that_fails_is_indexed_by_title_and_said_so(
    docs_settings: Settings, docs_fake: RunningFake
) -> None:
    docs_fake.faults.fail("/docs/trl/dpo_trainer.md", 500, times=3, headers={"Retry-After": "0"})
    result = core.search_docs(docs_settings, "DPO Trainer", "trl")
    assert result.hits[0].url.endswith("/docs/trl/dpo_trainer")
    assert any("1 page(s) could not be read" in note for note in result.notes)


def test_a_slow_page_does_not_hold_the_search_past_its_budget(
    docs_settings: Settings, docs_fake: RunningFake
) -> None:
    docs_fake.faults.stall("/docs/trl/dpo_trainer.md", 3.0)
    started = time.monotonic()
    result = core.search_docs(docs_settings, "DPO Trainer", "trl", build_budget_s=0.5)
    assert time.monotonic() - started < 2.9  # the page stalls for 3 s
    assert result.hits[0].url.endswith("/docs/trl/dpo_trainer")  # still found, by its title
    assert any("1 page(s) could not be read" in note for note in result.notes)


async def test_unknown_library_suggests_close_names(docs_settings: Settings) -> None:
    async with Client(build_server(docs_settings)) as c:
        with pytest.raises(
            ToolError, match=r"No documentation for library 'trll'.*Did you mean trl"
        ):
            await c.call_tool("docs_search", {"query": "sft", "library": "trll"})


def test_unreachable_site_without_an_index_is_reported(docs_settings: Settings) -> None:
    settings = docs_settings.model_copy(update={"docs_url": f"http://127.0.0.1:{free_port()}/docs"})
    with pytest.raises(
        UserError, match=r"Cannot reach the Hugging Face docs site.*MLINTERN_DOCS_URL"
    ):
        core.search_docs(settings, "lora", "peft")


def test_bad_library_slug_is_refused_before_any_request(
    docs_settings: Settings, docs_fake: RunningFake
) -> None:
    with pytest.raises(UserError, match="not a docs library slug"):
        core.search_docs(docs_settings, "lora", "../../etc")
    assert docs_fake.recorder.requests == []


def test_results_page_with_next_offset(docs_settings: Settings) -> None:
    first = core.search_docs(docs_settings, "trainer", "trl", limit=1)
    assert len(first.hits) == 1 and first.next_offset == 1 and first.hint
    second = core.search_docs(docs_settings, "trainer", "trl", limit=1, offset=1)
    assert second.hits and second.hits[0].url != first.hits[0].url


def test_the_hf_token_is_never_sent_to_the_docs_site(
    docs_settings: Settings, docs_fake: RunningFake
) -> None:
    settings = docs_settings.model_copy(update={"hf_token": SecretStr("hf_never_to_docs_42")})
    core.search_docs(settings, "lora", "peft")
    core.fetch_doc(settings, "peft/developer_guides/lora")
    assert docs_fake.recorder.requests
    assert all("authorization" not in r.headers for r in docs_fake.recorder.requests)
