"""experiments_check without a preferences file: the default diagnosis, over real training runs
of the example MLP (overfitting, NaN, a too-low learning rate) and exact synthetic series."""

from __future__ import annotations

import json

import pytest
from experiments_world import experiments_server as make_server
from experiments_world import mcp_client as client
from training_runs import OVERFIT, train

from toolkits.experiments import core
from toolkits.experiments.diagnosis import pairs
from toolkits.experiments.sources import Located, read

pytestmark = pytest.mark.slow


def _by_state(data: dict) -> dict[tuple[str, str], dict]:
    return {(f["metric"], f["state"]): f for f in data["diagnosis"]}


async def test_overfitting_run_names_the_step_the_gap_opened(settings, tmp_path) -> None:
    log_dir = train(tmp_path, "overfit", OVERFIT)
    async with client(make_server(settings)) as c:
        result = await c.call_tool("experiments_check", {"source": str(log_dir)})
    data = result.structured_content
    found = _by_state(data)[("train/loss vs val/loss", "overfitting")]
    snap = read(Located("x", path=log_dir))
    val = snap.series["val/loss"]
    best = int(val.steps[val.values.argmin()])
    assert found["numbers"]["gap_opened_step"] == best == 40
    assert found["numbers"]["val_last"] == pytest.approx(float(val.values[-1]))
    assert found["numbers"]["gap_last"] > found["numbers"]["gap_at_open"]
    assert "gap opened at step 40" in found["evidence"]
    assert "early stopping" in found["next_action"]
    # The overfitting explains val/loss; it is not also called a plateau.
    assert ("val/loss", "plateaued") not in _by_state(data)
    assert data["status"] == "attention" and data["passed"] is True
    text = result.content[0].text
    assert text.startswith("PASSED — val/loss best 0.7")  # warnings only: nothing fails
    assert "Diagnosis:" in text and "train/loss vs val/loss overfitting" in text


async def test_nan_and_too_low_learning_rate(settings, tmp_path) -> None:
    exploded = train(tmp_path, "lr1000", {"optimizer": {"lr": 1000}})
    crawling = train(tmp_path, "lr-tiny", {"optimizer": {"lr": 0.0005}})
    async with client(make_server(settings)) as c:
        bad = await c.call_tool("experiments_check", {"source": str(exploded)})
        slow = await c.call_tool("experiments_check", {"source": str(crawling)})
    nan = _by_state(bad.structured_content)[("val/loss", "nan")]
    assert nan["severity"] == "fail" and nan["numbers"]["first_non_finite_step"] == 50
    assert "lowered 10x" in nan["next_action"]
    assert bad.structured_content["status"] == "action_needed"
    assert bad.structured_content["passed"] is False
    low = _by_state(slow.structured_content)[("val/loss", "lr_too_low")]
    assert low["severity"] == "warn" and "raise the learning rate" in low["next_action"]
    assert 0 < low["numbers"]["improved_from_start"] < 0.1
    assert low["numbers"]["best_step"] == 300  # still setting new bests at the end


def _jsonl(path, **series: list[float]) -> str:
    rows = [
        {"step": i * 10, **{tag: values[i] for tag, values in series.items()}}
        for i in range(len(next(iter(series.values()))))
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_converged_improving_diverging_and_noisy(settings, store, tmp_path) -> None:
    converged = [1 / (1 + i) if i < 20 else 0.05 for i in range(40)]
    improving = [1 - 0.02 * i for i in range(40)]
    rising = [1.0] * 10 + [1.0 + 0.1 * i for i in range(30)]
    noisy = [1.0 + (0.6 if i % 2 else -0.6) * (1 if i % 4 < 2 else 0.8) for i in range(40)]
    source = _jsonl(
        tmp_path / "m.jsonl", loss=converged, val_error=improving, nll=rising, eval_mse=noisy
    )
    report = core.check(settings, store, source)
    found = {(f.metric, f.state): f for f in report.diagnosis}
    assert found[("loss", "converged")].numbers["best"] == 0.05
    assert found[("val_error", "improving")].severity == "ok"
    diverging = found[("nll", "diverging")]
    assert diverging.numbers == {
        "start_level": 1.0,
        "end_level": pytest.approx(3.75),
        "best": 1.0,
        "best_step": 0,
    }
    assert "past 2x its start" in diverging.evidence
    assert found[("eval_mse", "noisy")].numbers["noise"] > 0.25
    assert report.status == "action_needed"


def test_preferences_override_the_defaults(settings, store, tmp_path) -> None:
    rising = [1.0 + 0.02 * i for i in range(40)]  # 1.78x: not diverging by default (2x)
    source = _jsonl(tmp_path / "m.jsonl", nll=rising)
    default = {(f.metric, f.state) for f in core.check(settings, store, source).diagnosis}
    assert default == {("nll", "plateaued")}
    prefs = "```yaml\nmetrics:\n  nll: {divergence_factor: 1.5}\n```\n"
    strict = core.check(settings, store, source, prefs)
    assert [(f.metric, f.state) for f in strict.diagnosis] == [("nll", "diverging")]
    flipped = "```yaml\nmetrics:\n  nll: {goal: maximize}\n```\n"
    found = {(f.metric, f.state) for f in core.check(settings, store, source, flipped).diagnosis}
    assert ("nll", "improving") in found


def test_train_and_validation_tags_pair_up() -> None:
    assert pairs(["train/loss", "val/loss", "val/accuracy"]) == [("train/loss", "val/loss")]
    assert pairs(["loss", "val_loss", "eval_loss"]) == [("loss", "val_loss"), ("loss", "eval_loss")]
    assert pairs(["train_acc", "valid_acc", "test_f1"]) == [("train_acc", "valid_acc")]
