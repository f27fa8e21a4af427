"""research: a read-only sub-agent over the papers toolkit (loopback fakes of the Hub's papers
API, arXiv and Semantic Scholar) that returns a cited summary and nothing of its steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import arxiv, hf_papers, semantic_scholar
from fakes.llm import ScriptedLLM, call, calls, say
from fakes.loopback import RunningFake, run_fake
from fastmcp import Client

from server.app import build_server
from server.settings import Settings
from tasks.taskkit import ProgressLog, expect_in_last_result, use

QUESTION = "How do people fine-tune sub-1B chat models with LoRA, and on what data?"
SUMMARY = (
    "1. Papers: [arXiv:2502.01234] TinyTune — a 0.5B model with LoRA matches a full fine-tune "
    "(61.2 vs 61.6 on MT-Bench-mini).\n2. Data: mlintern-fake/tinychat-10k.\n3. Recipe (§4.1): "
    "Qwen2.5-0.5B, 3 epochs, AdamW, lr 2e-4, LoRA r=16, alpha=32."
)
READ_BUT_NOT_REPORTED = "warmup ratio 0.03"  # in §4.1, which the sub-agent read


@pytest.fixture
def papers_fakes() -> Iterator[dict[str, RunningFake]]:
    with (
        run_fake(hf_papers.build_app()) as hub,
        run_fake(arxiv.build_app()) as arxiv_site,
        run_fake(semantic_scholar.build_app()) as s2,
    ):
        yield {"hub": hub, "arxiv": arxiv_site, "s2": s2}


def offered_tools(body: dict[str, Any]) -> set[str]:
    return {tool["function"]["name"] for tool in body.get("tools") or []}


async def test_research_cites_the_papers_it_read_and_keeps_its_steps_to_itself(
    tmp_path: Path,
    llm: ScriptedLLM,
    agent_config: Path,
    papers_fakes: dict[str, RunningFake],
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        toolsets=["plan", "jobs", "papers", "tasks"],
        hf_endpoint=papers_fakes["hub"].url,
        arxiv_url=papers_fakes["arxiv"].url,
        semantic_scholar_url=papers_fakes["s2"].url,
        research_model="openai/research-mini",
        _env_file=None,  # type: ignore[call-arg]
    )

    def only_read_only_research_tools(body: dict[str, Any]) -> bool | str:
        tools = offered_tools(body)
        wrong = {t for t in tools if not t.startswith("papers_")}
        if body.get("model") != "research-mini":
            return f"research used model {body.get('model')!r}, not MLINTERN_RESEARCH_MODEL"
        return (not wrong and "papers_get" in tools) or f"offered {sorted(tools)}"

    llm.add(
        calls(
            call("papers_search", {"query": "LoRA small language model fine-tuning"}),
            expect=only_read_only_research_tools,
        ),
        calls(
            call("papers_get", {"arxiv_id": "2502.01234", "section": "4.1"}),
            expect=expect_in_last_result("2502.01234", "TinyTune"),
        ),
        say(SUMMARY, expect=expect_in_last_result(READ_BUT_NOT_REPORTED, "r=16")),
    )
    progress = ProgressLog()
    async with Client(build_server(settings), progress_handler=progress) as c:
        result = await use(c, "research", question=QUESTION)

    assert result.data["summary"] == SUMMARY
    assert result.data["sources"] == [{"kind": "paper", "ref": "2502.01234", "cited": True}]
    assert result.data["model"] == "openai/research-mini" and result.data["ended"] == "completed"
    # Only the summary and the list of sources come back: not the pages the sub-agent read.
    assert READ_BUT_NOT_REPORTED not in result.text and "papers_search" not in result.text
    assert "[paper] 2502.01234" in result.text
    # It really read the fakes, and the caller saw it working.
    assert papers_fakes["arxiv"].requests_to("/html/2502.01234")
    assert any("calling papers_get" in m for m in progress.messages)
    assert not any(READ_BUT_NOT_REPORTED in m for m in progress.messages)


async def test_research_refuses_clearly_without_research_toolkits(
    tmp_path: Path, agent_config: Path
) -> None:
    from fastmcp.exceptions import ToolError

    settings = Settings(home=tmp_path / "home", toolsets=["plan", "tasks"], _env_file=None)  # type: ignore[call-arg]
    async with Client(build_server(settings)) as c:
        with pytest.raises(ToolError, match="--toolsets papers,docs"):
            await c.call_tool("research", {"question": QUESTION})
