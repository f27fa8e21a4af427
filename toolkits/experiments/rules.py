"""Rules from preferences.md evaluated over a run's facts, and the actions they recommend.

Rules are kept in the order written: the first rule that fires is the recommendation, later
ones are listed too. An action becomes a concrete call (``experiments_restart`` with the new
learning rate read from the job's config, ``jobs_cancel``), so the caller need not work it out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from server.errors import UserError
from toolkits.experiments import conditions
from toolkits.experiments.config_edit import find_lr_key, get_value, load_config
from toolkits.experiments.diagnosis import Finding
from toolkits.experiments.preferences import Action, ActionKind, Preferences, Rule
from toolkits.experiments.sources import Snapshot
from toolkits.experiments.sources.jobs import JobInfo, config_path
from toolkits.experiments.verdicts import RunFacts, Verdict


class RuleOutcome(BaseModel):
    name: str
    when: str
    fired: bool
    action: ActionKind
    evidence: list[str] = Field(default_factory=list, description="Why it fired, with numbers.")
    line: int = Field(description="Line of the rule in preferences.md.")


class SuggestedAction(BaseModel):
    rule: str
    action: ActionKind
    config_changes: dict[str, Any] | None = None
    call: str | None = Field(default=None, description="The tool call that carries it out.")
    note: str | None = None


class CheckReport(BaseModel):
    source: str
    experiment: str | None = Field(default=None, description="From preferences.md, if named.")
    job_id: str | None = None
    job_status: str | None = None
    passed: bool = Field(description="No failing verdict and no rule fired.")
    status: Literal["ok", "attention", "action_needed"]
    summary: str
    verdicts: list[Verdict]
    rules: list[RuleOutcome]
    actions: list[SuggestedAction] = Field(description="From fired rules, first = recommended.")
    warnings: list[str] = Field(default_factory=list)
    diagnosis: list[Finding] = Field(
        default_factory=list,
        description="Default judgment per metric (improving, converged, plateaued, diverging, "
        "nan, overfitting, lr_too_low, noisy) with evidence and a next action.",
    )


def evaluate(rule: Rule, facts: RunFacts) -> RuleOutcome:
    evidence: list[str] = []
    fired = False
    for group in rule.condition:
        reasons = [_term_reason(term, facts) for term in group]
        if all(reason is not None for reason in reasons):
            fired = True
            evidence = [r for r in reasons if r is not None]
            break
    return RuleOutcome(
        name=rule.name,
        when=rule.when,
        fired=fired,
        action=rule.action.kind,
        evidence=evidence,
        line=rule.line,
    )


def _term_reason(term: conditions.Term, facts: RunFacts) -> str | None:
    """Why ``term`` holds, or None when it does not."""
    if isinstance(term, conditions.JobIs):
        found = facts.job_states.get(term.state)
        return found[0] if found else None
    metric = facts.metrics[term.metric]
    if isinstance(term, conditions.MetricCompare):
        if term.holds(metric.last):
            return f"{term.metric} is {metric.last:.4g} ({term.describe()})"
        return None
    found = metric.states.get(term.state)
    return found[0] if found else None


def report(snapshot: Snapshot, prefs: Preferences, facts: RunFacts) -> CheckReport:
    outcomes = [evaluate(rule, facts) for rule in prefs.rules]
    job = snapshot.job
    actions = [
        _suggest(rule, outcome, job, prefs)
        for rule, outcome in zip(prefs.rules, outcomes, strict=True)
        if outcome.fired
    ]
    failing = [v for v in facts.verdicts if v.severity == "fail"]
    warning = [v for v in facts.verdicts if v.severity == "warn"]
    status = "action_needed" if failing or actions else "attention" if warning else "ok"
    return CheckReport(
        source=snapshot.source,
        experiment=prefs.experiment,
        job_id=job.job_id if job else None,
        job_status=job.status if job else None,
        passed=not failing and not actions,
        status=status,
        summary=_summary(status, failing, warning, actions, facts),
        verdicts=facts.verdicts,
        rules=outcomes,
        actions=actions,
        warnings=prefs.warnings + snapshot.problems[:5],
    )


def _summary(
    status: str,
    failing: list[Verdict],
    warning: list[Verdict],
    actions: list[SuggestedAction],
    facts: RunFacts,
) -> str:
    if status == "ok":
        return f"{len(facts.metrics)} watched metric(s) within preferences"
    head = failing[0] if failing else warning[0] if warning else None
    text = head.message if head else "a rule fired"
    if actions:
        first = actions[0]
        text += f". Rule '{first.rule}' recommends {first.action}"
        text += f": {first.call}" if first.call else f" ({first.note})" if first.note else ""
    return text


def _suggest(
    rule: Rule, outcome: RuleOutcome, job: JobInfo | None, prefs: Preferences
) -> SuggestedAction:
    action = rule.action
    reason = f"{rule.name}: {'; '.join(outcome.evidence)}"[:400]
    suggestion = SuggestedAction(rule=rule.name, action=action.kind)
    if action.kind == "notify":
        suggestion.note = action.message or f"tell the user: {reason}"
        return suggestion
    if job is None:
        suggestion.note = "the source is not a job, so apply this by hand"
        return suggestion
    if action.kind == "stop":
        suggestion.call = f"jobs_cancel(job_id={job.job_id!r})"
        return suggestion
    changes: dict[str, Any] = {}
    if action.kind == "lower_lr":
        proposed, note = _lower_lr(job, action, prefs)
        if proposed is None:
            suggestion.note = note
            return suggestion
        changes, suggestion.note = proposed, note
    elif action.kind == "set_config":
        changes = dict(action.changes or {})
    suggestion.config_changes = changes
    journal = f", experiment={prefs.experiment!r}" if prefs.experiment else ""
    suggestion.call = (
        f"experiments_restart(job_id={job.job_id!r}, config_changes="
        f"{json.dumps(changes)}, reason={reason!r}{journal})"
    )
    return suggestion


def _lower_lr(
    job: JobInfo, action: Action, prefs: Preferences
) -> tuple[dict[str, Any] | None, str]:
    path = config_path(job)
    if path is None:
        return None, (
            f"job {job.job_id} has no config_file, so its learning rate is unknown; "
            "resubmit with a config file or lower the lr by hand"
        )
    try:
        config = load_config(Path(path))
    except UserError as exc:
        return None, str(exc)
    key = find_lr_key(config, prefs.lr_key)
    if key is None:
        wanted = prefs.lr_key or "a usual key (optimizer.lr, lr, learning_rate, ...)"
        return None, (
            f"no numeric learning rate at {wanted} in {path}; set tuning: lr_key in preferences.md"
        )
    current = float(get_value(config, key))
    factor = action.factor or 0.5
    proposed = float(f"{current * factor:.6g}")
    if prefs.min_lr is not None and proposed < prefs.min_lr:
        if current <= prefs.min_lr:
            return None, f"{key} is {current:g}, already at min_lr {prefs.min_lr:g}"
        proposed = prefs.min_lr
    return {key: proposed}, f"{key}: {current:g} -> {proposed:g} (x{factor:g})"
