"""papers_get: details from the Hub, sections from arXiv HTML, arXiv fallback, errors."""

from __future__ import annotations

import pytest
from fakes.loopback import RunningFake
from fastmcp import Client
from fastmcp.exceptions import ToolError
from helpers import free_port

from papers.results import data, text
from server.app import build_server
from server.errors import NotFoundError, UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.papers import core


async def test_details_have_links_linked_repos_and_the_outline(
    papers_settings: Settings, era: str
) -> None:
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    server = build_server(papers_settings)
    async with Client(server, mode=era, progress_handler=on_progress) as c:
        result = await c.call_tool("papers_get", {"arxiv_id": "https://arxiv.org/abs/2502.01234v1"})
    paper = data(result)
    assert paper["source"] == "huggingface" and paper["arxiv_id"] == "2502.01234"
    assert paper["title"].startswith("TinyTune")
    assert "tinychat-10k" in paper["abstract"]
    assert paper["links"]["github"] == "https://github.com/tinytune/tinytune"
    assert paper["links"]["html"].endswith("/html/2502.01234v1")
    # Most downloaded first, as the Hub's arxiv: filter sorted by downloads returns them.
    assert [m["repo_id"] for m in paper["linked_models"]] == [
        "tinytune/TinyTune-0.5B-SFT",
        "tinytune/TinyTune-0.5B-LoRA",
    ]
    assert [d["repo_id"] for d in paper["linked_datasets"]] == ["mlintern-fake/tinychat-10k"]
    outline = [(s["number"], s["title"]) for s in paper["sections"]]
    assert ("4.1", "Training recipe") in outline and ("A", "Hyperparameters") in outline
    assert outline[0] == ("", "Abstract")
    assert "  4.1 Training recipe" in text(result)
    assert progress and progress[-1] == 3


@pytest.mark.parametrize("wanted", ["4.1", "training recipe", "Section 4.1", "Training Recipe"])
def test_a_section_by_number_or_title_gives_the_recipe(
    papers_settings: Settings, store: StateStore, wanted: str
) -> None:
    result = core.get_paper(papers_settings, store, "2502.01234", section=wanted)
    assert result.section is not None
    assert (result.section.number, result.section.title) == ("4.1", "Training recipe")
    text = result.section.text
    # Maths comes out as its TeX source, not as MathML symbol soup.
    assert "learning rate of $2\\times 10^{-4}$" in text
    assert "mlintern-fake/tinychat-10k" in text and "r=16, alpha=32" in text
    assert "Results" not in text  # 4.2 is a sibling, not part of 4.1


def test_a_section_includes_its_subsections_and_tables(
    papers_settings: Settings, store: StateStore
) -> None:
    result = core.get_paper(papers_settings, store, "2502.01234", section="4")
    assert result.section is not None
    text = result.section.text
    assert text.index("## 4.1 Training recipe") < text.index("## 4.2 Results")
    assert "| Full FT | 61.6 | 40 GB" in text
    appendix = core.get_paper(papers_settings, store, "2502.01234", section="appendix A")
    assert appendix.section is not None and "weight decay 0.0" in appendix.section.text


async def test_long_sections_page_and_the_html_is_downloaded_once(
    papers_settings: Settings, arxiv_site: RunningFake
) -> None:
    async with Client(build_server(papers_settings)) as c:
        first = await c.call_tool(
            "papers_get", {"arxiv_id": "2502.01234", "section": "4", "max_chars": 500}
        )
        part = data(first)["section"]
        assert part["truncated"] and part["next_offset"] == 500
        assert "offset=500" in text(first)
        second = await c.call_tool(
            "papers_get",
            {"arxiv_id": "2502.01234", "section": "4", "max_chars": 500, "offset": 500},
        )
    rest = data(second)["section"]
    assert rest["offset"] == 500
    assert part["text"] + rest["text"] in _full_section_4(papers_settings)
    # One download for both calls (the first request is arXiv's redirect to the latest version).
    assert arxiv_site.recorder.paths().count("/html/2502.01234v1") == 1


def _full_section_4(settings: Settings) -> str:
    store = StateStore(settings.state_path)
    section = core.get_paper(settings, store, "2502.01234", section="4", max_chars=15_000).section
    assert section is not None and not section.truncated
    return section.text


def test_paper_without_html_gives_details_and_points_to_the_pdf(
    papers_settings: Settings, store: StateStore
) -> None:
    details = core.get_paper(papers_settings, store, "2106.00042")
    assert details.sections == [] and details.links["pdf"].endswith("/pdf/2106.00042")
    assert any("no HTML version" in note for note in details.notes)
    with pytest.raises(NotFoundError, match=r"no HTML version of 2106.00042.*PDF"):
        core.get_paper(papers_settings, store, "2106.00042", section="3")


def test_many_linked_models_show_the_top_and_say_how_to_list_all(
    papers_settings: Settings, store: StateStore
) -> None:
    details = core.get_paper(papers_settings, store, "2106.00042")
    assert [m.repo_id for m in details.linked_models] == [
        f"community/lora-adapter-{i}" for i in (7, 6, 5, 4, 3)
    ]
    assert details.more_linked is not None
    assert "hub_search(kind='model', filters=['arxiv:2106.00042'])" in details.more_linked


def test_paper_unknown_to_the_hub_comes_from_the_arxiv_export_api(
    papers_settings: Settings, store: StateStore
) -> None:
    details = core.get_paper(papers_settings, store, "1901.00007")
    assert details.source == "arxiv"
    assert details.title == "Scaling Laws for Tiny Chat Models"
    assert details.authors == ["Grace Hopper"] and details.published == "2019-01-02"
    assert "huggingface" not in details.links


async def test_unknown_paper_suggests_searching(papers_settings: Settings) -> None:
    async with Client(build_server(papers_settings)) as c:
        with pytest.raises(ToolError, match=r"No paper arXiv:2503.99999.*papers_search"):
            await c.call_tool("papers_get", {"arxiv_id": "2503.99999"})


def test_malformed_id_is_refused_before_any_request(
    papers_settings: Settings, store: StateStore, hub: RunningFake
) -> None:
    with pytest.raises(UserError, match="not an arXiv id"):
        core.get_paper(papers_settings, store, "attention is all you need")
    assert hub.recorder.requests == []


def test_unknown_section_lists_the_sections_there_are(
    papers_settings: Settings, store: StateStore
) -> None:
    with pytest.raises(NotFoundError, match=r"No section 'ablations'.*4.1 Training recipe"):
        core.get_paper(papers_settings, store, "2502.01234", section="ablations")


def test_hub_down_still_gives_the_paper_from_arxiv(
    papers_settings: Settings, store: StateStore
) -> None:
    settings = papers_settings.model_copy(update={"hf_endpoint": f"http://127.0.0.1:{free_port()}"})
    details = core.get_paper(settings, store, "2502.01234")
    assert details.source == "arxiv" and details.title.startswith("TinyTune")
    assert any("Cannot reach the Hub" in note for note in details.notes)
    assert details.sections  # the arXiv outline does not depend on the Hub


def test_arxiv_timeout_on_a_section_is_reported(
    papers_settings: Settings, store: StateStore, arxiv_site: RunningFake
) -> None:
    arxiv_site.faults.stall("/html/", 3.0)
    settings = papers_settings.model_copy(update={"http_timeout_s": 0.3})
    with pytest.raises(UserError, match=r"arXiv did not answer within 0.3 s"):
        core.get_paper(settings, store, "2502.05678", section="1")
