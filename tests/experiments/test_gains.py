"""What a restart chain's interventions gained, over real CPU training runs of the example
through MCP: a diverging run restarted with a sane learning rate, then once more; the journal's
restart entries carry the figures, and experiments_compare given one job id compares its chain."""

from __future__ import annotations

import math

import pytest
import yaml
from experiments_world import experiments_server as make_server
from experiments_world import finished
from experiments_world import mcp_client as client
from training_runs import TRAIN

from toolkits.experiments.gains import better, pick_metric

pytestmark = pytest.mark.slow


async def test_a_chain_shows_what_each_restart_gained(settings, tmp_path) -> None:
    config = tmp_path / "config.yaml"
    base = {"steps": 60, "eval_every": 20, "batch_size": 32, "hidden": 16}
    config.write_text(yaml.safe_dump({**base, "optimizer": {"name": "sgd", "lr": 1000.0}}))
    async with client(make_server(settings, "jobs")) as c:
        submitted = await c.call_tool(
            "jobs_submit", {"script": str(TRAIN), "config_file": str(config), "name": "gains"}
        )
        first = submitted.structured_content["job_id"]
        assert (await finished(c, first))["exit_code"] == 3  # diverged to NaN
        ids = [first]
        for lr in (0.1, 0.05):
            restarted = await c.call_tool(
                "experiments_restart",
                {"job_id": ids[-1], "config_changes": {"optimizer.lr": lr}, "reason": "try"},
            )
            ids.append(restarted.structured_content["new_job_id"])
            assert (await finished(c, ids[-1]))["status"] == "completed"
        compared = await c.call_tool("experiments_compare", {"sources": [first]})
        journal = await c.call_tool("experiments_journal", {"experiment": "gains"})
        pair = await c.call_tool("experiments_compare", {"sources": [ids[0], ids[2]]})
    data = compared.structured_content
    assert [run["job_id"] for run in data["runs"]] == ids
    chain = data["chain"]
    assert chain["job_ids"] == ids and chain["metric"] == "val/loss"
    assert chain["goal"] == "minimize"
    first_link, second_link, third_link = chain["links"]
    assert first_link["value"] == "NaN" and first_link["change"] is None
    assert second_link["change"] == "optimizer.lr 1000.0 -> 0.1"
    assert third_link["change"] == "optimizer.lr 0.1 -> 0.05"
    assert second_link["improved"] is True and second_link["delta"] is None  # NaN before
    after, last = second_link["value"], third_link["value"]
    assert isinstance(after, float) and isinstance(last, float) and math.isfinite(last)
    assert third_link["delta"] == pytest.approx(last - after, abs=1e-6)
    assert third_link["improved"] is (last < after)
    assert all(link["cost_usd"] == 0.0 and link["wall_s"] > 0 for link in chain["links"])
    assert chain["total_wall_s"] == pytest.approx(
        sum(link["wall_s"] for link in chain["links"]), abs=0.2
    )
    assert chain["total_cost_usd"] == 0.0 and chain["better_than_first"] is True
    assert chain["first_value"] == "NaN" and chain["final_value"] == last
    text = compared.content[0].text
    assert (
        f"Interventions: chain {' → '.join(ids)}: val/loss NaN → {last:.4g} over 2 restart(s)"
        in text
    )
    assert "$0.0000; better than its first run" in text
    # The journal: each restart entry carries the figures of the chain up to the stopped job.
    first_entry, second_entry = journal.structured_content["entries"]
    assert first_entry["numbers"][f"val/loss ({first})"] == "NaN"
    assert first_entry["numbers"]["cost_usd (chain)"] == 0.0
    assert second_entry["numbers"][f"val/loss ({ids[1]})"] == after
    assert f"so far: chain {first} → {ids[1]}: val/loss NaN → {after:.4g}" in second_entry["action"]
    # Two jobs of one chain: compared as given, with the whole chain's gains.
    assert [run["job_id"] for run in pair.structured_content["runs"]] == [ids[0], ids[2]]
    assert pair.structured_content["chain"]["job_ids"] == ids


def test_metric_choice_and_comparison_rules() -> None:
    assert pick_metric([{"train/loss", "val/loss"}, {"val/loss", "lr"}]) == "val/loss"
    assert pick_metric([{"accuracy"}, {"accuracy"}]) == "accuracy"
    assert pick_metric([{"lr"}]) is None
    assert better(0.5, float("nan"), "minimize") is True
    assert better(float("nan"), 0.5, "minimize") is False
    assert better(0.9, 0.8, "maximize") is True and better(0.9, 0.8, "minimize") is False
    assert better(0.5, 0.6, None) is None


def test_the_chain_is_compared_on_a_metric_every_run_has() -> None:
    """A run restarted before its first evaluation has only train/loss: val/loss, which the
    successor has too, would leave the chain with nothing to compare."""
    assert pick_metric([{"train/loss"}, {"train/loss", "val/loss"}]) == "train/loss"
    assert pick_metric([{"train/loss", "val/loss"}, {"train/loss", "val/loss"}]) == "val/loss"
    assert pick_metric([]) is None
