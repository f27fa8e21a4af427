"""A delegated run whose model is stuck ends as ``stuck`` with a message, as in the CLI."""

from __future__ import annotations

from pathlib import Path

from fakes.llm import Reply, ScriptedLLM
from fakes.llm_stream import endless
from fakes.loopback import RunningFake
from fastmcp import Client

from server.app import build_server
from server.settings import Settings
from tasks.taskkit import use
from tasks.test_research import QUESTION, papers_fakes  # noqa: F401  (the fixture)


async def test_research_with_a_degenerate_model_ends_stuck(
    tmp_path: Path,
    llm: ScriptedLLM,
    agent_config: Path,
    papers_fakes: dict[str, RunningFake],  # noqa: F811
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        toolsets=["plan", "papers", "tasks"],
        hf_endpoint=papers_fakes["hub"].url,
        arxiv_url=papers_fakes["arxiv"].url,
        semantic_scholar_url=papers_fakes["s2"].url,
        research_model="openai/research-mini",
        _env_file=None,  # type: ignore[call-arg]
    )
    llm.add(*[Reply(live=endless("<|im_end|>", "\n"), label=f"garbage {i}") for i in range(3)])
    async with Client(build_server(settings)) as c:
        result = await use(c, "research", question=QUESTION)
    assert result.data["ended"] == "stuck" and result.data["iterations"] == 3
    assert result.data["summary"].startswith(
        "Stopped: the model is stuck — its output degenerated into '<|im_end|>\\n' repeated"
    )
