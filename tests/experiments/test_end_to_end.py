"""The whole loop without any LLM, through the real MCP server: a diverging run is caught by
the user's preferences, restarted with a lower learning rate, passes, and both decisions are in
the journal."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import anyio
import yaml
from experiments_world import EXAMPLE_PREFERENCES, REPO, experiments_server, mcp_client

from toolkits.experiments.config_edit import edit_config

TRAIN = REPO / "examples" / "train.py"
DIVERGING_LR = 10.0  # SGD on the example MLP turns NaN within a few steps


def diverging_config(work: Path) -> Path:
    shutil.copy(REPO / "examples" / "config.yaml", work / "config.yaml")
    # A short pause per step keeps the run alive long enough to be caught mid-way.
    text, _ = edit_config(work / "config.yaml", {"optimizer.lr": DIVERGING_LR, "step_sleep": 0.01})
    (work / "config.yaml").write_text(text)
    return work / "config.yaml"


async def wait_finished(c, job_id: str, limit_s: float = 180) -> dict:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        waited = await c.call_tool("jobs_status", {"job_id": job_id, "wait_s": 30})
        if waited.structured_content["status"] in ("completed", "failed", "cancelled", "lost"):
            return waited.structured_content
    raise AssertionError(f"{job_id} did not finish in {limit_s}s")


async def test_diverging_run_is_caught_fixed_and_journaled(settings, jobs, tmp_path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = diverging_config(work)
    preferences = str(EXAMPLE_PREFERENCES)
    async with mcp_client(experiments_server(settings, "jobs")) as c:
        submitted = await c.call_tool(
            "jobs_submit",
            {
                "script": str(TRAIN),
                "working_dir": str(work),
                "config_file": "config.yaml",
                "name": "tiny-mlp",
            },
        )
        first = submitted.structured_content["job_id"]

        # The agent's scheduled look: check until the preferences call for action.
        deadline = time.monotonic() + 120
        while True:
            checked = await c.call_tool(
                "experiments_check", {"source": first, "preferences": preferences}
            )
            report = checked.structured_content
            if report["actions"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert not report["passed"] and report["status"] == "action_needed"
        fired = [rule["name"] for rule in report["rules"] if rule["fired"]]
        assert fired[0] == "diverging"
        assert any(
            v["kind"] == "nan_inf" and v["subject"] == "train/loss" for v in report["verdicts"]
        )
        action = report["actions"][0]
        assert action["config_changes"] == {"optimizer.lr": 0.1}  # x0.01, from preferences.md
        assert action["call"].startswith(f"experiments_restart(job_id='{first}'")
        assert "NaN/Inf" in checked.content[0].text

        assert report["experiment"] == "tiny-mlp"
        assert action["call"].endswith(", experiment='tiny-mlp')")
        restarted = await c.call_tool(
            "experiments_restart",
            {
                "job_id": first,
                "config_changes": action["config_changes"],
                "reason": report["summary"],
                "experiment": report["experiment"],
            },
        )
        result = restarted.structured_content
        second = result["new_job_id"]
        assert result["old_job_status"] in ("cancelled", "failed")  # stopped, or already over
        assert result["experiment"] == "tiny-mlp"
        assert not any("log_dir" in note for note in result["notes"])  # log_dir: null
        new_config = anyio.Path(result["config_file"])
        assert Path(new_config.parent) == work
        text = await new_config.read_text()
        assert "# sane for sgd" in text  # the user's comments survive the edit
        assert yaml.safe_load(text)["optimizer"]["lr"] == 0.1
        assert yaml.safe_load(config.read_text())["optimizer"]["lr"] == DIVERGING_LR

        done = await wait_finished(c, second)
        assert (done["status"], done["exit_code"]) == ("completed", 0)
        assert jobs.get(second).parent_job_id == first

        final = await c.call_tool(
            "experiments_check", {"source": second, "preferences": preferences}
        )
        verdict = final.structured_content
        assert verdict["passed"], final.content[0].text
        assert verdict["job_status"] == "completed"
        val_loss = next(v for v in verdict["verdicts"] if v["subject"] == "val/loss")
        assert val_loss["kind"] == "ok" and val_loss["numbers"]["last"] < 0.5

        await c.call_tool(
            "experiments_journal",
            {
                "experiment": "tiny-mlp",
                "action": "append",
                "entry": {
                    "observation": val_loss["message"],
                    "decision": "keep the lower learning rate; the run meets the preferences",
                    "job_ids": [second],
                    "numbers": {"val/loss": val_loss["numbers"]["last"]},
                },
            },
        )
        page = await c.call_tool("experiments_journal", {"experiment": "tiny-mlp"})
        compared = await c.call_tool("experiments_compare", {"sources": [first, second]})

    # The two runs side by side: the learning rate is what differs, and the second one wins.
    comparison = compared.structured_content
    differences = {d["key"]: d["values"] for d in comparison["config_differences"]}
    assert differences == {"optimizer.lr": [DIVERGING_LR, 0.1]}
    val_row = next(row for row in comparison["tags"] if row["tag"] == "val/loss")
    assert val_row["best_run"] == 1

    entries = page.structured_content["entries"]
    assert [e["job_ids"] for e in entries] == [[first, second], [second]]
    assert entries[0]["decision"].startswith(f"restart {first} as {second} with optimizer.lr")
    assert "NaN/Inf" in entries[0]["observation"]
    assert entries[1]["decision"].startswith("keep the lower learning rate")
    markdown = await anyio.Path(page.structured_content["path"]).read_text()
    assert f"{first} → {second}" in markdown and markdown.count("## ") == 2
