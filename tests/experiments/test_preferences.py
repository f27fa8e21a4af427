"""preferences.md parsing: the shipped example, the shorthand, and errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from experiments_world import EXAMPLE_PREFERENCES

from server.errors import UserError
from toolkits.experiments.preferences import load_preferences
from toolkits.experiments.yaml_blocks import PreferencesError


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_example_parses_with_rules_in_order() -> None:
    text = EXAMPLE_PREFERENCES.read_text()
    prefs = load_preferences(str(EXAMPLE_PREFERENCES))
    assert prefs.experiment == "tiny-mlp"
    val_loss = prefs.metrics["val/loss"]
    assert (val_loss.goal, val_loss.threshold, val_loss.patience) == ("minimize", 0.5, 5)
    assert prefs.metrics["val/accuracy"].goal == "maximize"
    assert prefs.health.max_minutes_without_step == 10
    assert (prefs.lr_key, prefs.min_lr) == ("optimizer.lr", 1e-6)
    assert [r.name for r in prefs.rules] == [
        "diverging",
        "stalled above target",
        "crashed",
        "stuck",
    ]
    assert prefs.rules[0].action.kind == "lower_lr" and prefs.rules[0].action.factor == 0.01
    assert prefs.rules[3].action.message and "jobs_logs" in prefs.rules[3].action.message
    assert prefs.rules[1].line == line_of(text, "name: stalled above target")
    assert prefs.warnings == []


def test_text_is_accepted_as_well_as_a_path_and_blocks_merge() -> None:
    text = (
        "Notes for people.\n\n```yaml\nval_loss_threshold: 0.4\n```\n\nMore notes.\n\n"
        "~~~yml\nrules:\n  - when: val_loss above threshold\n    action: stop\n"
        "colour: blue\n~~~\n\n```python\nprint('not preferences')\n```\n"
    )
    prefs = load_preferences(text)
    assert prefs.metrics["val_loss"].threshold == 0.4
    assert prefs.metrics["val_loss"].goal == "minimize"  # inferred from the name
    assert prefs.rules[0].action.kind == "stop" and prefs.rules[0].name == "rule 1"
    assert prefs.warnings == [
        f"preferences:{line_of(text, 'colour')}: key 'colour' is not used "
        "(known: experiment, metrics, health, tuning, rules, "
        "<metric>_threshold)"
    ]


CASES = [
    # (yaml body, the line (within the body, 1-based) the error must name, message fragment)
    ("metrics:\n  val/loss:\n    goal: minimise\n", 3, "goal 'minimise' must be 'minimize' or"),
    ("metrics:\n  val/loss: {patience: 2.5}\n", 2, "patience"),
    (
        "rules:\n  - when: val/loss wobbles\n    action: stop\n",
        2,
        "'val/loss wobbles' is not a term",
    ),
    (
        "rules:\n  - when: val/loss nan\n    action: {lower_lr: {factor: 2}}\n",
        3,
        "factor 2.0 must be between 0 and 1",
    ),
    ("rules:\n  - when: val/loss nan\n    action: reboot\n", 3, "unknown action 'reboot'"),
    ("rules:\n  - when: val/loss nan\n", 2, "has no 'action:'"),
    (
        "rules:\n  - name: x\n    when: val/acc below_threshold\n    action: stop\n",
        2,
        "uses a threshold of 'val/acc', which has none",
    ),
    (
        "rules:\n  - when: throughput plateau\n    action: notify\n",
        2,
        "cannot tell whether 'throughput' should go up or down",
    ),
    ("health:\n  max_minutes_without_step: soon\n", 2, "must be a number, not 'soon'"),
    ("metrics:\n  val/loss: {goal: minimize}\n  val/loss: {goal: maximize}\n", 3, "appears twice"),
    ("metrics:\n  val/loss: [unclosed\n", 2, "YAML error"),
    ("- just\n- a list\n", 1, "must be a mapping"),
]


@pytest.mark.parametrize(("body", "body_line", "fragment"), CASES)
def test_malformed_preferences_point_at_the_line(
    tmp_path: Path, body: str, body_line: int, fragment: str
) -> None:
    path = tmp_path / "preferences.md"
    path.write_text("# My prefs\n\nSome prose.\n\n```yaml\n" + body + "```\n")
    with pytest.raises(PreferencesError) as caught:
        load_preferences(str(path))
    message = str(caught.value)
    assert message.startswith(f"preferences.md:{5 + body_line}: "), message
    assert fragment in message


def test_unclosed_fence_and_missing_blocks_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PreferencesError, match=r"^preferences:3: code block opened here is never"):
        load_preferences("# prefs\n\n```yaml\nmetrics: {}\n")
    with pytest.raises(PreferencesError, match="no ```yaml block found"):
        load_preferences("# prefs\n\njust prose, no blocks\n")
    with pytest.raises(UserError, match=r"Preferences file .* not found"):
        load_preferences(str(tmp_path / "missing.md"))


def test_metrics_as_a_list_with_names() -> None:
    prefs = load_preferences(
        "```yaml\nmetrics:\n  - name: eval/f1\n    threshold: 0.7\n  - name: eval/latency_ms\n"
        "    goal: minimize\n    after_step: 100\n```\n"
    )
    assert prefs.metrics["eval/f1"].goal == "maximize" and prefs.metrics["eval/f1"].line == 3
    assert prefs.metrics["eval/latency_ms"].after_step == 100
