"""``mlintern-agent watch`` against a real running job: three ticks, one restart, then it stops
by itself once the job's successor is done. The model is the scripted LLM; the tools are the
real jobs and experiments toolkits; examples/train.py really runs."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.llm import Reply, ScriptedLLM, call, calls, say
from helpers import REPO, test_env
from tasks.experiment_dialogue import diverging_config
from tasks.taskkit import (
    PREFERENCES,
    TRAIN,
    Dialogue,
    job_ids,
    last_tool_result,
    write_agent_config,
)

from agent.watch import parse_every
from server.errors import UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.experiments.config_edit import edit_config
from toolkits.experiments.journal import read as read_journal
from toolkits.jobs.core import JobService, build_spec

EXPERIMENT = "tiny-watch"
TICK_JOB = re.compile(r"Scheduled check (\d+) of training job (j-[0-9a-f]{10})")


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[JobService]:
    settings = Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]
    service = JobService(settings, StateStore(settings.state_path))
    yield service
    for status in ("queued", "running"):  # nothing outlives the test (cancelled by pid)
        for job in service.list(status=status):
            service.cancel(job.job_id)


def agent_cmd() -> list[str]:
    """``mlintern-agent`` as installed (console script next to this interpreter)."""
    script = Path(sys.executable).with_name("mlintern-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli"]


def tick_and_job(body: dict[str, Any]) -> tuple[int, str]:
    prompts = [m["content"] for m in body["messages"] if m.get("role") == "user"]
    found = TICK_JOB.search(prompts[-1])
    assert found, f"not a tick prompt: {prompts[-1][:200]!r}"
    return int(found.group(1)), found.group(2)


def check(tick: int) -> Any:
    def step(body: dict[str, Any]) -> Reply:
        number, job = tick_and_job(body)
        assert number == tick, f"expected tick {tick}, got {number}"
        return calls(call("experiments_check", {"source": job, "preferences": str(PREFERENCES)}))

    return step


def restart(body: dict[str, Any]) -> Reply:
    _, job = tick_and_job(body)
    changes = {"optimizer.lr": 0.1, "step_sleep": 0.0}
    reason = "train/loss NaN: the 'diverging' rule says cut the learning rate"
    return calls(
        call("experiments_restart", {"job_id": job, "reason": reason, "config_changes": changes})
    )


def wait_for_successor(body: dict[str, Any]) -> Reply:
    number, job = tick_and_job(body)
    assert number == 3
    return calls(call("jobs_status", {"job_id": job, "wait_s": 55}))


def journal(body: dict[str, Any]) -> Reply:
    assert "completed" in last_tool_result(body), last_tool_result(body)[:300]
    _, job = tick_and_job(body)
    entry = {"observation": f"{job} completed", "decision": "done: keep lr 0.1", "job_ids": [job]}
    return calls(
        call("experiments_journal", {"experiment": EXPERIMENT, "action": "append", "entry": entry})
    )


@pytest.mark.slow
def test_watch_ticks_restarts_once_and_stops_when_the_successor_is_done(
    tmp_path: Path, jobs: JobService
) -> None:
    work = tmp_path / "work"
    config = diverging_config(work)
    # The first run is slow on purpose: it is still running during the first two ticks.
    config.write_text(edit_config(config, {"step_sleep": 0.5})[0])
    first = jobs.submit(
        build_spec(
            script=str(TRAIN), working_dir=str(work), config_file="config.yaml", name=EXPERIMENT
        )
    ).job_id
    with ScriptedLLM() as llm:
        dialogue = Dialogue(
            llm,
            [
                check(1),
                say("No evaluation past the threshold yet; waiting."),
                check(2),
                restart,
                lambda body: say(f"Diverging: restarted as {job_ids(last_tool_result(body))[-1]}."),
                wait_for_successor,
                journal,
                say("The restarted run completed; journaled."),
            ],
        )
        agent_config = write_agent_config(tmp_path / "agent.json", llm)
        cmd = [*agent_cmd(), "watch", "--job", first, "--preferences", str(PREFERENCES)]
        cmd += ["--every", "1s", "--config", str(agent_config)]
        env = test_env(tmp_path / "home", LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(REPO))
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=REPO)
        llm.check()
    dialogue.check()
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 4, proc.stdout
    [second] = [job.job_id for job in jobs.list() if job.parent_job_id == first]
    assert f"tick 1 · {first} running" in lines[0] and "waiting" in lines[0]
    assert f"tick 2 · {first} running → restarted as {second}" in lines[1]
    assert f"tick 3 · {second}" in lines[2] and lines[2].endswith("done: nothing left to watch")
    assert jobs.get(first).status == "cancelled"  # the restart stopped the diverging run
    assert (jobs.get(second).status, jobs.get(second).exit_code) == ("completed", 0)
    page = read_journal(jobs.settings, jobs.jobs.state, EXPERIMENT, None, 20)
    assert [entry.job_ids for entry in page.entries] == [[first, second], [second], [first, second]]
    # What the restart gained: the first run's figure in the restart's entry, the chain's in
    # the last entry and on the last line.
    restart_entry, _, result = page.entries
    # The first run's loss figure: val/loss once it has evaluated, train/loss before that.
    [figure] = [key for key in restart_entry.numbers if key.endswith(f" ({first})")]
    assert figure in (f"val/loss ({first})", f"train/loss ({first})")
    assert restart_entry.numbers["cost_usd (chain)"] == 0.0
    assert result.decision == "the chain ended better than its first run"
    metric = figure.split(" (")[0]  # the loss both runs have
    final = result.numbers[f"{metric} ({second})"]
    assert isinstance(final, float) and math.isfinite(final)
    assert lines[3].startswith(f"interventions: chain {first} → {second}: {metric} ")
    assert lines[3].endswith(", $0.0000; better than its first run")
    assert f"{second} completed after optimizer.lr 10.0 -> 0.1, step_sleep 0.5 -> 0.0: " in (
        result.observation
    )


def test_every_takes_human_durations_and_refuses_nonsense() -> None:
    assert parse_every("1s") == 1 and parse_every("15m") == 900 and parse_every("2h") == 7200
    with pytest.raises(UserError, match="not a duration"):
        parse_every("soon")
