"""examples/README.md's walkthrough, step by step, through the real CLIs: launch a diverging
examples/train.py job, check it against examples/preferences.md, restart it, read the journal,
plot (the path is printed), then `watch` from the first job of the chain in cron and continuous
mode. The model is the scripted LLM; every tool, job and file is real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes.llm import Reply, ScriptedLLM, call, calls, say
from helpers import REPO, test_env
from tasks.taskkit import PREFERENCES, TRAIN, Dialogue, Step, job_ids, last_tool_result

from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService

EXPERIMENT = "tiny-mlp"  # what examples/preferences.md names


def result_has(*needles: str):
    def expect(body: dict[str, Any]) -> bool | str:
        text = last_tool_result(body)
        missing = [n for n in needles if n not in text]
        return not missing or f"missing {missing} in {text[:800]!r}"

    return expect


def run_step(tmp_path: Path, steps: list[Step], *args: str) -> subprocess.CompletedProcess[str]:
    """One command of the walkthrough, with the model's side of it scripted."""
    home = tmp_path / "home"
    with ScriptedLLM() as llm:
        dialogue = Dialogue(llm, steps)
        config = tmp_path / "agent.json"
        config.write_text(json.dumps({
            "model": "openai/scripted", "api_base": llm.api_base,
            "limits": {"context_tokens": 32768}, "bundled": {"toolsets": ["jobs", "experiments"]},
        }))  # fmt: skip
        # The agent runs from tmp_path; the example script lives in the checkout, which a user
        # following examples/README.md lists as a root (or runs from).
        roots = f"{os.environ.get('MLINTERN_ROOTS', tmp_path)},{REPO / 'examples'}"
        env = test_env(
            home, MLINTERN_AGENT_CONFIG=str(config), LITELLM_LOCAL_MODEL_COST_MAP="True",
            NO_COLOR="1", COLUMNS="400", PYTHONPATH=str(REPO), MLINTERN_ROOTS=roots,
        )  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "agent.cli", *args],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        llm.check()
    dialogue.check()
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_the_examples_walkthrough(tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = tmp_path / "exp"
    # examples/config.yaml with the walkthrough's one edit: an absurd learning rate
    work.mkdir()
    text = (REPO / "examples" / "config.yaml").read_text()
    assert "  lr: 0.1 " in text  # the line examples/README.md's sed edits
    (work / "config.yaml").write_text(text.replace("  lr: 0.1 ", "  lr: 10  ", 1))
    prefs = str(PREFERENCES)
    ids: dict[str, str] = {}

    def wait(key: str) -> Step:
        def step(body: dict[str, Any]) -> Reply:
            ids.setdefault(key, job_ids(last_tool_result(body))[-1])
            return calls(call("jobs_status", {"job_id": ids[key], "wait_s": 55}))

        return step

    # 1. launch
    submit = {"script": str(TRAIN), "working_dir": str(work), "config_file": "config.yaml",
              "name": EXPERIMENT}  # fmt: skip
    done = run_step(
        tmp_path,
        [calls(call("jobs_submit", submit)), wait("first"),
         say("The loss went NaN.", expect=result_has("failed exit=3", "exited with code 3"))],
        "--approve", "jobs_*", "--no-stream", "Submit train.py and wait",
    )  # fmt: skip
    first = ids["first"]
    assert "The loss went NaN." in done.stdout

    # 2. check against preferences.md
    verdict = result_has(
        "ACTION NEEDED",
        f"Rule 'diverging' recommends lower_lr: experiments_restart(job_id='{first}', "
        'config_changes={"optimizer.lr": 0.1}',
        f"experiment='{EXPERIMENT}'",
    )
    done = run_step(
        tmp_path,
        [calls(call("experiments_check", {"source": first, "preferences": prefs})),
         say("Diverging.", expect=verdict)],
        "--no-stream", f"Check job {first} against {prefs}",
    )  # fmt: skip
    assert "ACTION NEEDED" in done.stderr

    # 3. restart with the fix, and wait for the new job
    restart = {"job_id": first, "config_changes": {"optimizer.lr": 0.1}, "reason": "diverging",
               "experiment": EXPERIMENT}  # fmt: skip
    run_step(
        tmp_path,
        [calls(call("experiments_restart", restart)), wait("second"),
         say("Restarted; it passed.", expect=result_has("completed"))],
        "--approve", "experiments_restart", "--approve", "jobs_*", "--no-stream", "Apply it",
    )  # fmt: skip
    second = ids["second"]
    assert second != first

    # 4. the journal
    run_step(
        tmp_path,
        [calls(call("experiments_journal", {"experiment": EXPERIMENT, "action": "read"})),
         say("One entry.", expect=result_has(f"restart {first} as {second}"))],
        "--no-stream", f"Read the journal of experiment {EXPERIMENT}",
    )  # fmt: skip
    journal_md = home / "experiments" / EXPERIMENT / "journal.md"
    assert f"restart {first} as {second}" in journal_md.read_text()

    # 5. a plot: the path is printed and the file is there
    done = run_step(
        tmp_path,
        [calls(call("experiments_metrics", {"source": second, "plot": True})), say("Plotted.")],
        "--no-stream", f"Plot job {second}",
    )  # fmt: skip
    [plot_line] = [line for line in done.stderr.splitlines() if line.startswith("  plot: ")]
    plot = Path(plot_line.removeprefix("  plot: "))
    assert plot.parent == home / "plots" and plot.read_bytes().startswith(b"\x89PNG")

    # 6. watch from the FIRST job: cron (one tick) and continuous both act on the newest
    def tick(body: dict[str, Any]) -> Reply:
        prompt = [m["content"] for m in body["messages"] if m.get("role") == "user"][-1]
        assert f"Scheduled check 1 of training job {second}" in prompt, prompt[:300]
        assert f"the experiment journal is '{EXPERIMENT}'" in prompt
        return calls(call("experiments_check", {"source": second, "preferences": prefs}))

    for mode in (["--max-ticks", "1"], ["--every", "1s"]):
        done = run_step(
            tmp_path,
            [tick, say("val/loss under 0.5: passed.", expect=result_has("PASSED"))],
            "watch", "--job", first, "--preferences", prefs, *mode,
        )  # fmt: skip
        lines = done.stdout.strip().splitlines()
        assert lines[0] == (
            f"note: {first} was already restarted ({first} → {second}); watching the newest "
            f"job of its chain, {second}"
        )
        assert f"tick 1 · {second} completed · val/loss under 0.5: passed." in lines[1]
        assert lines[1].endswith("done: nothing left to watch") and len(lines) == 3
        assert lines[2].startswith(f"interventions: chain {first} → {second}: val/loss NaN → ")
        assert lines[2].endswith(", $0.0000; better than its first run")

    settings = Settings(home=home, _env_file=None)  # type: ignore[call-arg]
    jobs = JobService(settings, StateStore(settings.state_path))
    assert [j.parent_job_id for j in jobs.list()].count(first) == 1  # never forked again
    assert (jobs.get(second).status, jobs.get(second).exit_code) == ("completed", 0)
    # Both watches saw the chain end; its result is journaled once.
    ended = journal_md.read_text().count("**Decision:** the chain ended better than its first")
    assert ended == 1


def test_train_py_missing_config_exits_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(TRAIN), "--config", str(tmp_path / "missing.yaml")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"train.py: --config {tmp_path / 'missing.yaml'} does not exist; pass an existing YAML file"
    )
    assert not (tmp_path / "runs").exists()  # nothing ran with defaults
