"""The agent-driven experiment, as the scripted model plays it: submit examples/train.py with a
diverging learning rate, wait, read the verdict, restart with a lower rate, wait, journal, report.

Job ids are minted by the real jobs toolkit while the run works, so the steps read them from
the tool results the agent received (exactly what a real model would do).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fakes.llm import Reply, call, calls, say
from helpers import REPO

from tasks.taskkit import PREFERENCES, TRAIN, Step, job_ids, last_tool_result
from toolkits.experiments.config_edit import edit_config

TASK = (
    "Train examples/train.py with the config in my work folder, watch it against "
    "examples/preferences.md, fix it if the preferences say so, and report."
)
DIVERGING_LR = 10.0  # SGD on the example MLP turns NaN within a few steps
# Six evaluations: enough for the preferences' verdicts, and each run lasts a few seconds.
SHORT_RUN = {"steps": 60, "eval_every": 10}


def diverging_config(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "examples" / "config.yaml", work / "config.yaml")
    text, _ = edit_config(work / "config.yaml", {"optimizer.lr": DIVERGING_LR, **SHORT_RUN})
    (work / "config.yaml").write_text(text)
    return work / "config.yaml"


class ExperimentDialogue:
    """The steps, and the two job ids they saw (for the test's assertions)."""

    def __init__(self, work: Path, experiment: str):
        self.work = work
        self.experiment = experiment  # the job's name, hence its journal
        self.first = ""
        self.second = ""

    def _fail(self, what: str, body: dict[str, Any]) -> None:
        raise AssertionError(f"{what}; last tool result: {last_tool_result(body)[:600]!r}")

    def submit(self, body: dict[str, Any]) -> Reply:
        arguments = {
            "script": str(TRAIN),
            "working_dir": str(self.work),
            "config_file": "config.yaml",
            "name": self.experiment,
        }
        return calls(call("jobs_submit", arguments))

    def wait_first(self, body: dict[str, Any]) -> Reply:
        found = job_ids(last_tool_result(body))
        if len(found) != 1:
            self._fail("jobs_submit did not return one job id", body)
        self.first = found[0]
        return calls(call("jobs_status", {"job_id": self.first, "wait_s": 55}))

    def check(self, body: dict[str, Any]) -> Reply:
        if "failed" not in last_tool_result(body):
            self._fail("the diverging run should have failed (exit code 3)", body)
        arguments = {"source": self.first, "preferences": str(PREFERENCES)}
        return calls(call("experiments_check", arguments))

    def restart(self, body: dict[str, Any]) -> Reply:
        verdict = last_tool_result(body)
        if "diverging" not in verdict or "NaN" not in verdict:
            self._fail("the verdict should name the diverging rule and the NaN", body)
        arguments = {
            "job_id": self.first,
            "reason": "train/loss is NaN: the 'diverging' rule says cut the learning rate",
            "config_changes": {"optimizer.lr": 0.1},
        }
        return calls(call("experiments_restart", arguments))

    def wait_second(self, body: dict[str, Any]) -> Reply:
        found = [job for job in job_ids(last_tool_result(body)) if job != self.first]
        if len(found) != 1:
            self._fail("experiments_restart did not name one new job", body)
        self.second = found[0]
        return calls(call("jobs_status", {"job_id": self.second, "wait_s": 55}))

    def journal(self, body: dict[str, Any]) -> Reply:
        if "completed" not in last_tool_result(body):
            self._fail("the restarted run should have completed", body)
        entry = {
            "observation": f"{self.second} completed with lr 0.1; no NaN",
            "decision": "keep the lower learning rate",
            "job_ids": [self.second],
        }
        arguments = {"experiment": self.experiment, "action": "append", "entry": entry}
        return calls(call("experiments_journal", arguments))

    def report(self, body: dict[str, Any]) -> Reply:
        return say(
            f"{self.first} diverged (train/loss NaN at lr {DIVERGING_LR}); I restarted it as "
            f"{self.second} with lr 0.1, which completed. Both decisions are in the "
            f"'{self.experiment}' journal."
        )

    def steps(self) -> list[Step]:
        return [
            self.submit,
            self.wait_first,
            self.check,
            self.restart,
            self.wait_second,
            self.journal,
            self.report,
        ]
