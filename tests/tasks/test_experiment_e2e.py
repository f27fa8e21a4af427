"""The agent-driven experiment end to end, through an MCP client over real HTTP calling
run_ml_task on a real mlintern-server: real jobs run examples/train.py, the approvals reach the
client (pushed elicitation on 2025-11-25, input-required rounds on 2026-07-28), and the report
names both jobs. The same again with detach=True, driven only by ml_task (status, approve)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.llm import ScriptedLLM
from fastmcp import Client

from tasks.experiment_dialogue import TASK, ExperimentDialogue, diverging_config
from tasks.taskkit import ApprovalDesk, Dialogue, ProgressLog, http_server, use, write_agent_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One mlintern-server for the module (start-up is slow on a busy machine); each test aims
    the operator's agent config at its own scripted model and uses its own experiment name."""
    root = tmp_path_factory.mktemp("e2e")
    config = root / "agent.json"
    with http_server(
        root / "home", "plan,jobs,experiments,tasks", MLINTERN_AGENT_CONFIG=str(config)
    ) as (url, _):
        yield url, config


async def finish(c: Client, played: ExperimentDialogue) -> tuple[list[dict], dict]:
    """The journal's entries and the restarted job's status, as the host can read them."""
    journal = await use(c, "experiments_journal", experiment=played.experiment)
    second = await use(c, "jobs_status", job_id=played.second)
    return journal.data["entries"], second.data


def assert_experiment_done(report: dict, entries: list[dict], second: dict, played) -> None:
    first, restarted = played.first, played.second
    assert report["status"] == "completed", report
    assert report["artifacts"]["job_ids"] == [first, restarted]
    assert report["artifacts"]["journals"] == [played.experiment]
    assert first in report["summary"] and restarted in report["summary"]
    assert report["declined"] == [] and report["pending"] == []
    assert report["iterations"] == 7
    assert (second["status"], second["exit_code"]) == ("completed", 0)
    # Both decisions: the restart (recorded by experiments_restart) and the agent's own entry.
    assert [e["job_ids"] for e in entries] == [[first, restarted], [restarted]]
    assert entries[0]["decision"].startswith(f"restart {first} as {restarted}")
    assert entries[1]["decision"] == "keep the lower learning rate"
    # What the restart gained, in the final report.
    [gained] = report["interventions"]
    assert gained.startswith(f"chain {first} → {restarted}: val/loss NaN → ")
    assert " over 1 restart(s), " in gained and gained.endswith(
        ", $0.0000; better than its first run"
    )


async def test_the_experiment_end_to_end_over_http(
    tmp_path: Path, llm: ScriptedLLM, server: tuple[str, Path], era: str
) -> None:
    url, config = server
    write_agent_config(config, llm)
    played = ExperimentDialogue(tmp_path / "work", f"tiny-mlp-{era}")
    diverging_config(played.work)
    dialogue = Dialogue(llm, played.steps())
    desk = ApprovalDesk({"approve": True}, {"approve": True})
    progress = ProgressLog()
    async with Client(
        url, mode=era, elicitation_handler=desk, progress_handler=progress, timeout=300
    ) as c:
        result = await use(c, "run_ml_task", task=TASK)
        entries, second = await finish(c, played)
    dialogue.check()
    assert_experiment_done(result.data, entries, second, played)
    assert played.first in result.text and played.second in result.text
    # The person at the host approved the submission, then the restart with the lower rate.
    assert len(desk.messages) == 2
    assert "jobs_submit" in desk.messages[0]
    assert "experiments_restart" in desk.messages[1] and '"optimizer.lr": 0.1' in desk.messages[1]
    # The host saw the run step by step.
    for tool in ("jobs_submit", "jobs_status", "experiments_check", "experiments_restart"):
        assert any(f"calling {tool}" in m for m in progress.messages), (tool, progress.messages)
    assert any(m.startswith("step 7/50") for m in progress.messages)


async def poll_until_ended(c: Client, run_id: str, limit_s: float = 240) -> tuple[dict, Any]:
    """Drive a detached run with ml_task only (status, approve), approving every ask."""
    since, seen, approved = 0, [], []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        page = (await use(c, "ml_task", run_id=run_id, since=since)).data
        seen += page["events"]
        since = page["next_since"]
        if page["pending"]:
            decisions = [{"call_id": p["call_id"], "action": "approve"} for p in page["pending"]]
            approved += [p["tool"] for p in page["pending"]]
            await use(c, "ml_task", run_id=run_id, action="approve", decisions=decisions)
        elif page["status"] not in ("running", "awaiting_approval"):
            return page, (seen, approved)
        await asyncio.sleep(0.3)
    raise AssertionError(f"run {run_id} did not end in {limit_s}s")


async def test_the_experiment_detached_driven_by_status_and_approve(
    tmp_path: Path, llm: ScriptedLLM, server: tuple[str, Path]
) -> None:
    url, config = server
    write_agent_config(config, llm)
    played = ExperimentDialogue(tmp_path / "work", "tiny-mlp-detached")
    diverging_config(played.work)
    dialogue = Dialogue(llm, played.steps())
    async with Client(url, mode="2026-07-28", timeout=120) as c:  # no elicitation at all
        started = (await use(c, "run_ml_task", task=TASK, detach=True)).data
        run_id = started["run_id"]
        assert started["status"] == "running" and "ml_task(" in started["hint"]
        report, (events, approved) = await poll_until_ended(c, run_id)
        entries, second = await finish(c, played)
        page = await use(c, "ml_task", run_id=run_id, since=2, limit=3)
    dialogue.check()
    assert_experiment_done(report, entries, second, played)
    assert approved == ["jobs_submit", "experiments_restart"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))  # every event exactly once, in order
    kinds = [e["kind"] for e in events]
    assert kinds.count("approval_needed") == 2 and kinds[-1] == "done"
    # A later look pages through the same log.
    assert [e["seq"] for e in page.data["events"]] == [3, 4, 5]
    assert page.data["next_since"] == 5 and page.data["more_events"]
    assert "call again with since=5" in page.text
