"""Job ids as sources, over real local jobs: crashed and stale verdicts, and experiments_restart
(config edits, lineage, journal, refusals)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from server.errors import NotFoundError, UserError
from toolkits.experiments import core, journal
from toolkits.experiments.restart import restart
from toolkits.jobs.core import JobSpec

CRASH_PREFS = """
```yaml
rules:
  - name: crashed
    when: crashed
    action: restart
```
"""
SHOW_CONFIG = """
import json, os, sys
given = json.load(open(sys.argv[sys.argv.index("--config") + 1]))
from_env = json.load(open(os.environ["MLINTERN_CONFIG_FILE"]))
print("arg lr", given["optimizer"]["lr"], "env lr", from_env["optimizer"]["lr"])
"""


def finished(service, job_id: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = service.refresh(job_id)
        if job.is_terminal:
            return job
        time.sleep(0.2)
    raise AssertionError(f"{job_id} still {job.status} after {timeout}s")


def test_crashed_job_is_judged_and_restarted_unchanged(settings, store, jobs) -> None:
    old = jobs.submit(JobSpec(command="echo boom; exit 5", name="crashy run"))
    finished(jobs, old.job_id)
    report = core.check(settings, store, old.job_id, CRASH_PREFS)
    assert report.job_status == "failed" and not report.passed
    crashed = next(v for v in report.verdicts if v.kind == "crashed")
    assert crashed.numbers == {"status": "failed", "exit_code": 5}
    assert report.rules[0].fired and report.actions[0].config_changes == {}
    assert report.actions[0].call.startswith(
        f"experiments_restart(job_id='{old.job_id}', config_changes={{}}, reason='crashed: job "
    )
    result = restart(settings, store, old.job_id, {}, "exit code 5, trying once more")
    new = jobs.get(result.new_job_id)
    assert new.parent_job_id == old.job_id
    assert new.spec.command == old.spec.command and new.spec.backend == "local"
    assert result.old_job_status == "failed" and result.changes == []
    assert result.experiment == "crashy-run"  # from the job's name
    page = journal.read(settings, store, "crashy-run")
    assert page.entries[0].job_ids == [old.job_id, new.job_id]
    assert page.entries[0].observation == "exit code 5, trying once more"
    # The next restart of the new job lands in the same journal: it already follows this lineage.
    second = restart(settings, store, new.job_id, {}, "still crashing")
    assert second.experiment == "crashy-run"
    assert journal.read(settings, store, "crashy-run").entry_count == 2


def test_running_job_that_never_logs_is_stale(settings, store, jobs) -> None:
    silent = jobs.submit(JobSpec(command="sleep 60"))
    prefs = "```yaml\nhealth: {max_minutes_without_step: 0.001}\n```\n"
    deadline = time.monotonic() + 30
    while jobs.refresh(silent.job_id).status != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)  # past the 0.06 s limit
    report = core.check(settings, store, silent.job_id, prefs)
    stale = next(v for v in report.verdicts if v.kind == "stale")
    assert stale.message.startswith("no metric at all since the job started")
    assert report.job_status == "running" and not report.passed
    assert any(v.kind == "no_data" for v in report.verdicts)


def test_json_config_edit_reaches_the_job_by_env_and_by_argument(
    settings, store, jobs, tmp_path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "show.py").write_text(SHOW_CONFIG)
    (work / "cfg.json").write_text(
        json.dumps({"optimizer": {"lr": 1.0, "name": "sgd"}, "log_dir": "runs"}, indent=4) + "\n"
    )
    old = jobs.submit(
        JobSpec(
            script="show.py",
            script_args=["--config", "cfg.json"],
            working_dir=str(work),
            config_file="cfg.json",
        )
    )
    result = restart(
        settings, store, old.job_id, {"optimizer.lr": 0.25}, "lr too high", experiment="json-demo"
    )
    new = finished(jobs, result.new_job_id)
    assert new.status == "completed", jobs.logs(new.job_id).text
    name = f"cfg.restart-{old.job_id}-1.json"
    assert new.spec.config_file == name and new.spec.script_args == ["--config", name]
    assert "arg lr 0.25 env lr 0.25" in jobs.logs(new.job_id).text
    written = (work / name).read_text()
    assert (
        written
        == json.dumps({"optimizer": {"lr": 0.25, "name": "sgd"}, "log_dir": "runs"}, indent=4)
        + "\n"
    )
    assert json.loads((work / "cfg.json").read_text())["optimizer"]["lr"] == 1.0
    assert [c.model_dump() for c in result.changes] == [
        {"key": "optimizer.lr", "old": 1.0, "new": 0.25}
    ]
    assert any("sets log_dir" in note for note in result.notes)  # both runs would share it
    entry = journal.read(settings, store, "json-demo").entries[0]
    # With what the chain had cost so far (this job logs no metric, so none is quoted).
    wall = entry.numbers.pop("wall_s (chain)")
    assert isinstance(wall, float) and wall >= 0
    assert entry.numbers == {
        "optimizer.lr": 0.25,
        "optimizer.lr (before)": 1.0,
        "cost_usd (chain)": 0.0,
    }


def test_restart_refusals_name_the_fix(settings, store, jobs, tmp_path) -> None:
    plain = jobs.submit(JobSpec(command="true"))
    with pytest.raises(UserError, match="submitted without config_file"):
        restart(settings, store, plain.job_id, {"optimizer.lr": 0.1}, "x")
    config = tmp_path / "config.yaml"
    config.write_text("optimizer:\n  lr: 0.1  # keep\n")
    configured = jobs.submit(JobSpec(command="true", config_file=str(config)))
    with pytest.raises(UserError, match=r"no key 'optimizer.lrr'. Did you mean optimizer.lr\?"):
        restart(settings, store, configured.job_id, {"optimizer.lrr": 0.01}, "typo")
    with pytest.raises(NotFoundError, match="jobs_list"):
        restart(settings, store, "j-doesnotexist", {}, "x")
    # Refused restarts leave no config file and no job behind.
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".yaml") == ["config.yaml"]
    assert len(jobs.list()) == 2
    allowed = restart(
        settings, store, configured.job_id, {"optimizer.momentum": 0.9}, "add", allow_new_keys=True
    )
    text = Path(allowed.config_file or "").read_text()
    assert text == "optimizer:\n  lr: 0.1  # keep\n  momentum: 0.9\n"
