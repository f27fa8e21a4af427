"""preferences.md: what the user wants from a run, parsed from its ```yaml blocks.

The YAML blocks (all of them, merged) may hold:

    experiment: tiny-mlp                 # journal name for this experiment
    val_loss_threshold: 0.5              # shorthand for metrics: {val_loss: {threshold: 0.5}}
    metrics:                             # a list with `name:` or a mapping name -> settings
      val/loss: {goal: minimize, threshold: 0.5, patience: 5, min_delta: 0.001}
    health:
      max_minutes_without_step: 15
    tuning:
      lr_key: optimizer.lr               # where the learning rate lives in the job's config
      min_lr: 1.0e-6
    rules:
      - name: diverging
        when: val/loss nan or val/loss diverged
        action: {lower_lr: {factor: 0.1}}

Metric names match tags exactly, or after lower-casing with punctuation read as "_"
(``val_loss`` matches ``val/loss``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, Field, ValidationError

from server.errors import UserError
from server.roots import current as current_roots
from toolkits.experiments import conditions
from toolkits.experiments.summary import Goal, infer_goal
from toolkits.experiments.yaml_blocks import (
    LineDict,
    LineList,
    PreferencesError,
    load_block,
    yaml_blocks,
)

ActionKind = Literal["lower_lr", "restart", "stop", "notify", "set_config"]
ACTIONS: tuple[str, ...] = ("lower_lr", "restart", "stop", "notify", "set_config")
TOP_LEVEL = ("experiment", "metrics", "health", "tuning", "rules")
THRESHOLD_SUFFIX = "_threshold"
MAX_TEXT = 200_000


class MetricPreference(BaseModel):
    name: str
    goal: Goal | None = None
    threshold: float | None = None
    patience: int = Field(default=5, ge=1, description="Points without a new best = plateau.")
    min_delta: float = Field(default=0.0, ge=0)
    divergence_factor: float = Field(default=2.0, gt=1)
    nan_tolerance: int = Field(default=0, ge=0)
    after_step: int = Field(default=0, ge=0, description="Judge only points from this step on.")
    line: int = 0


class HealthPreference(BaseModel):
    max_minutes_without_step: float | None = None
    line: int = 0


class Action(BaseModel):
    kind: ActionKind
    factor: float | None = None
    changes: dict[str, Any] | None = None
    message: str | None = None


class Rule(BaseModel):
    name: str
    when: str
    action: Action
    line: int = 0
    condition: Any = Field(default=None, exclude=True)


class Preferences(BaseModel):
    origin: str
    experiment: str | None = None
    metrics: dict[str, MetricPreference] = Field(default_factory=dict)
    health: HealthPreference = Field(default_factory=HealthPreference)
    lr_key: str | None = None
    min_lr: float | None = None
    rules: list[Rule] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def load_preferences(text_or_path: str) -> Preferences:
    """Parse ``text_or_path`` (the Markdown itself, or a path to it)."""
    text, origin = _read(text_or_path)
    blocks = yaml_blocks(text, origin)
    if not blocks:
        raise PreferencesError(
            origin,
            None,
            "no ```yaml block found. Put metrics, health and rules in fenced "
            "```yaml blocks (see examples/preferences.md).",
        )
    prefs = Preferences(origin=origin)
    for block in blocks:
        data = load_block(block, origin)
        if data is None:
            continue
        if not isinstance(data, LineDict):
            raise PreferencesError(
                origin,
                block.first_line,
                "a YAML block must be a mapping (key: value lines), not a list or a single value",
            )
        _merge(prefs, data, origin)
    _check_rules_against_metrics(prefs)
    return prefs


def _read(text_or_path: str) -> tuple[str, str]:
    if "\n" in text_or_path or "```" in text_or_path:
        return text_or_path, "preferences"
    path = Path(text_or_path.strip()).expanduser()
    if not path.is_file():
        raise UserError(
            f"Preferences file {text_or_path!r} not found. Pass the path to a preferences.md "
            f"(read on the server, relative to {Path.cwd()}) or the Markdown text itself."
        )
    roots = current_roots()
    return roots.read_text(path, limit=MAX_TEXT, what="preferences file"), path.name


def _merge(prefs: Preferences, data: LineDict, origin: str) -> None:
    for key, value in data.items():
        line = data.line_of(key)
        if key == "experiment":
            prefs.experiment = _text(value, origin, line, "experiment")
        elif key == "metrics":
            for metric in _metric_entries(value, origin, line):
                prefs.metrics[metric.name] = metric
        elif key == "health":
            prefs.health = _health(_mapping(value, origin, line, "health"), origin)
        elif key == "tuning":
            _tuning(prefs, _mapping(value, origin, line, "tuning"), origin)
        elif key == "rules":
            if not isinstance(value, LineList):
                raise PreferencesError(origin, line, "rules must be a list of '- when: ...' items")
            prefs.rules += [_rule(item, i, origin, line) for i, item in enumerate(value)]
        elif isinstance(key, str) and key.endswith(THRESHOLD_SUFFIX):
            name = key[: -len(THRESHOLD_SUFFIX)]
            metric = prefs.metrics.get(name) or MetricPreference(
                name=name, goal=infer_goal(name), line=line
            )
            metric.threshold = _number(value, origin, line, key)
            prefs.metrics[name] = metric
        else:
            prefs.warnings.append(
                f"{origin}:{line}: key {key!r} is not used (known: {', '.join(TOP_LEVEL)}, "
                f"<metric>_threshold)"
            )


def _metric_entries(value: Any, origin: str, line: int) -> list[MetricPreference]:
    if isinstance(value, LineDict):
        items = []
        for name, settings in value.items():
            entry = _mapping(
                settings if settings is not None else LineDict(),
                origin,
                value.line_of(name),
                f"metric {name!r}",
            )
            items.append((str(name), entry, value.line_of(name)))
    elif isinstance(value, LineList):
        items = []
        for item in value:
            entry = _mapping(item, origin, getattr(item, "line", line), "a metrics item")
            if "name" not in entry:
                raise PreferencesError(origin, entry.line, "this metric has no 'name:'")
            items.append((str(entry["name"]), entry, entry.line))
    else:
        raise PreferencesError(origin, line, "metrics must be a list or a mapping of metrics")
    return [_metric(name, entry, origin, at) for name, entry, at in items]


_METRIC_FIELDS = (
    "name",
    "goal",
    "threshold",
    "patience",
    "min_delta",
    "divergence_factor",
    "nan_tolerance",
    "after_step",
)


def _metric(name: str, entry: LineDict, origin: str, line: int) -> MetricPreference:
    values: dict[str, Any] = {"name": name, "line": line}
    for key, raw in entry.items():
        at = entry.line_of(key)
        if key not in _METRIC_FIELDS:
            raise PreferencesError(
                origin,
                at,
                f"metric {name!r}: unknown setting {key!r}; use {', '.join(_METRIC_FIELDS[1:])}",
            )
        if key == "goal":
            if raw not in ("minimize", "maximize"):
                raise PreferencesError(
                    origin, at, f"metric {name!r}: goal {raw!r} must be 'minimize' or 'maximize'"
                )
            values["goal"] = raw
        elif key != "name":
            values[key] = _number(raw, origin, at, f"{name}.{key}")
    try:
        metric = MetricPreference.model_validate(values)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else "settings"
        raise PreferencesError(
            origin, entry.line_of(field), f"metric {name!r}: {field} {problem['msg'].lower()}"
        ) from None
    metric.goal = metric.goal or infer_goal(name)
    return metric


def _health(entry: LineDict, origin: str) -> HealthPreference:
    health = HealthPreference(line=entry.line)
    for key, raw in entry.items():
        if key != "max_minutes_without_step":
            raise PreferencesError(
                origin,
                entry.line_of(key),
                f"health: unknown setting {key!r}; use max_minutes_without_step",
            )
        minutes = _number(raw, origin, entry.line_of(key), key)
        if minutes <= 0:
            raise PreferencesError(origin, entry.line_of(key), f"{key} must be above 0")
        health.max_minutes_without_step = minutes
    return health


def _tuning(prefs: Preferences, entry: LineDict, origin: str) -> None:
    for key, raw in entry.items():
        at = entry.line_of(key)
        if key == "lr_key":
            prefs.lr_key = _text(raw, origin, at, key)
        elif key == "min_lr":
            prefs.min_lr = _number(raw, origin, at, key)
        else:
            raise PreferencesError(
                origin, at, f"tuning: unknown setting {key!r}; use lr_key or min_lr"
            )


def _rule(item: Any, index: int, origin: str, line: int) -> Rule:
    entry = _mapping(item, origin, getattr(item, "line", line), f"rule #{index + 1}")
    name = str(entry.get("name") or f"rule {index + 1}")
    unknown = set(entry) - {"name", "when", "action", "then"}
    if unknown:
        key = sorted(unknown, key=str)[0]
        raise PreferencesError(
            origin,
            entry.line_of(key),
            f"rule {name!r}: unknown key {key!r}; a rule has name, when and action",
        )
    if "when" not in entry:
        raise PreferencesError(origin, entry.line, f"rule {name!r} has no 'when:' condition")
    when_line = entry.line_of("when")
    when = _text(entry["when"], origin, when_line, "when")
    try:
        condition = conditions.parse_condition(when)
    except conditions.ConditionError as exc:
        raise PreferencesError(origin, when_line, f"rule {name!r}: {exc}") from None
    action_key = "action" if "action" in entry else "then"
    if action_key not in entry:
        raise PreferencesError(
            origin, entry.line, f"rule {name!r} has no 'action:' (one of {', '.join(ACTIONS)})"
        )
    action = _action(entry[action_key], origin, entry.line_of(action_key), name)
    return Rule(name=name, when=when, action=action, line=entry.line, condition=condition)


def _action(raw: Any, origin: str, line: int, rule: str) -> Action:
    if isinstance(raw, str):
        kind, params = raw, LineDict()
    elif isinstance(raw, LineDict) and len(raw) == 1:
        kind, params = next(iter(raw.items()))
        params = params if params is not None else LineDict()
    else:
        raise PreferencesError(
            origin,
            line,
            f"rule {rule!r}: action must be one name "
            f"({', '.join(ACTIONS)}) or one mapping like "
            "{lower_lr: {factor: 0.5}}",
        )
    if kind not in ACTIONS:
        raise PreferencesError(
            origin, line, f"rule {rule!r}: unknown action {kind!r}; use one of {', '.join(ACTIONS)}"
        )
    if kind == "lower_lr":
        params = _mapping(params, origin, line, "lower_lr")
        factor = _number(params.get("factor", 0.5), origin, line, "lower_lr.factor")
        if not 0 < factor < 1:
            raise PreferencesError(
                origin,
                line,
                f"rule {rule!r}: lower_lr factor {factor} must "
                "be between 0 and 1 (0.5 halves the learning rate)",
            )
        return Action(kind="lower_lr", factor=factor)
    if kind == "set_config":
        changes = _mapping(params, origin, line, "set_config")
        if not changes:
            raise PreferencesError(
                origin,
                line,
                f"rule {rule!r}: set_config needs changes, "
                "e.g. {set_config: {optimizer.weight_decay: 0.01}}",
            )
        return Action(kind="set_config", changes=dict(changes))
    if kind == "notify" and isinstance(params, str):
        return Action(kind="notify", message=params)
    return Action(kind=cast(ActionKind, kind))


def _check_rules_against_metrics(prefs: Preferences) -> None:
    """Catch rules that can never be judged, at the rule's line, before any metric is read."""
    for rule in prefs.rules:
        for group in rule.condition:
            for term in group:
                if not isinstance(term, conditions.MetricIs):
                    continue
                metric = prefs.metrics.get(term.metric)
                needs_threshold = term.state in (
                    "above_threshold",
                    "below_threshold",
                    "threshold_missed",
                )
                if needs_threshold and (metric is None or metric.threshold is None):
                    raise PreferencesError(
                        prefs.origin,
                        rule.line,
                        f"rule {rule.name!r} uses "
                        f"a threshold of {term.metric!r}, which has none; "
                        f"add it under metrics: {term.metric}: {{threshold: ...}}",
                    )
                goal = metric.goal if metric else infer_goal(term.metric)
                if term.state in ("plateau", "threshold_missed", "diverged") and goal is None:
                    raise PreferencesError(
                        prefs.origin,
                        rule.line,
                        f"rule {rule.name!r}: cannot "
                        f"tell whether {term.metric!r} should go up or down; "
                        f"set goal: minimize|maximize under metrics",
                    )


def _mapping(value: Any, origin: str, line: int, what: str) -> LineDict:
    if isinstance(value, LineDict):
        return value
    raise PreferencesError(origin, line, f"{what} must be a mapping (key: value lines)")


def _number(value: Any, origin: str, line: int, what: str) -> float:
    # PyYAML reads 1e-6 (no dot) as text; accept it the way a person meant it.
    if isinstance(value, bool):
        raise PreferencesError(origin, line, f"{what} must be a number, not {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise PreferencesError(origin, line, f"{what} must be a number, not {value!r}") from None


def _text(value: Any, origin: str, line: int, what: str) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    raise PreferencesError(origin, line, f"{what} must be a non-empty text")
