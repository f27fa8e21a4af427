"""Tool results as a model reads them: the structured result plus a compact text rendering."""

from __future__ import annotations

from pydantic import Field

from server.toolkit import ToolOutput
from toolkits.experiments import core
from toolkits.experiments.compare import Comparison
from toolkits.experiments.journal import JournalPage
from toolkits.experiments.restart import RestartResult
from toolkits.experiments.rules import CheckReport
from toolkits.experiments.summary import TagSummary

SERIES_IN_TEXT_UP_TO_TAGS = 4


class MetricsView(ToolOutput, core.MetricsReport):
    plot: core.PlotSummary | None = Field(default=None, description="With plot=true.")

    def render(self) -> str:
        where = f"{self.source} ({self.kind}"
        where += f", job {self.job_id} {self.job_status}" if self.job_id else ""
        where += f", run {self.run}" if self.run else ""
        lines = [f"{where}): {self.tag_count} tag(s), read in {self.read_seconds:.3f}s"]
        for tag in self.tags:
            lines.append(_tag_line(tag))
            if len(self.tags) <= SERIES_IN_TEXT_UP_TO_TAGS and tag.series:
                points = " ".join(f"{step}:{_fmt(value)}" for step, value in tag.series)
                lines.append(f"  series ({len(tag.series)} pts, spikes kept): {points}")
        if len(self.tags) > SERIES_IN_TEXT_UP_TO_TAGS:
            lines.append("(downsampled series are in the structured result)")
        lines += [f"note: {p}" for p in self.problems]
        if self.hint:
            lines.append(self.hint)
        if self.plot is not None:
            lines.append(self.plot.text)  # its last lines: what the chart shows, where it is
        return "\n".join(lines)


def _tag_line(tag: TagSummary) -> str:
    if not tag.points:
        return f"{tag.tag}: no points"
    parts = [
        f"{tag.tag}: {tag.points} pts, steps {tag.first_step}-{tag.last_step}",
        f"last {_fmt(tag.last)}",
    ]
    if tag.min and tag.max:
        parts.append(f"min {_fmt(tag.min.value)}@{tag.min.step}")
        parts.append(f"max {_fmt(tag.max.value)}@{tag.max.step}")
    if tag.best and tag.goal:
        parts.append(f"best {_fmt(tag.best.value)}@{tag.best.step} ({tag.goal})")
    if tag.trend != "unknown" and tag.trend_window_steps:
        change = f" {tag.trend_change:+.1%}" if tag.trend_change is not None else ""
        low, high = tag.trend_window_steps
        parts.append(f"trend {tag.trend}{change} over steps {low}-{high}")
    if tag.nan_count or tag.inf_count:
        parts.append(
            f"{tag.nan_count} NaN, {tag.inf_count} Inf (first at step {tag.first_non_finite_step})"
        )
    if tag.steps_per_second is not None:
        parts.append(f"{tag.steps_per_second:.3g} steps/s")
    if tag.seconds_since_update is not None:
        parts.append(f"updated {tag.seconds_since_update:.0f}s ago")
    return " · ".join(parts)


def _fmt(value: float | str | None) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class CheckView(ToolOutput, CheckReport):
    def render(self) -> str:
        verdict = "PASSED" if self.passed else self.status.replace("_", " ").upper()
        lines = [f"{verdict} — {self.summary}"]
        if self.job_id:
            lines.append(f"job {self.job_id}: {self.job_status}")
        lines.append("Verdicts:")
        lines += [f"  [{v.severity}] {v.subject} {v.kind}: {v.message}" for v in self.verdicts]
        if self.rules:
            lines.append("Rules (in priority order):")
        for rule in self.rules:
            mark = "FIRED" if rule.fired else "-"
            lines.append(
                f"  [{mark}] {rule.name} (line {rule.line}): when {rule.when} -> {rule.action}"
            )
            lines += [f"      because {reason}" for reason in rule.evidence]
        for action in self.actions:
            lines.append(
                f"Action ({action.rule}): {action.call or action.action}"
                + (f" — {action.note}" if action.note else "")
            )
        if self.diagnosis:
            lines.append("Diagnosis:")
        for found in self.diagnosis:
            lines.append(f"  [{found.severity}] {found.metric} {found.state}: {found.evidence}")
            lines.append(f"      next: {found.next_action}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class ComparisonView(ToolOutput, Comparison):
    def render(self) -> str:
        names = [
            f"[{i}] {run.job_id or run.source}" + (f" ({run.job_status})" if run.job_status else "")
            for i, run in enumerate(self.runs)
        ]
        lines = ["Runs: " + "; ".join(names)]
        for row in self.tags:
            cells = []
            for i, cell in enumerate(row.runs):
                if cell is None:
                    cells.append(f"[{i}] —")
                    continue
                text = f"[{i}] last {_fmt(cell.last)}@{cell.last_step}"
                if cell.best is not None:
                    text += f" best {_fmt(cell.best)}@{cell.best_step}"
                if cell.non_finite:
                    text += f" ({cell.non_finite} NaN/Inf)"
                cells.append(text)
            winner = f"  => best: [{row.best_run}]" if row.best_run is not None else ""
            lines.append(f"{row.tag} ({row.goal or 'no goal'}): " + " | ".join(cells) + winner)
        if self.config_differences:
            lines.append(f"Config differences ({self.same_config_keys} keys equal):")
            lines += [
                f"  {d.key}: " + " | ".join(f"[{i}] {v}" for i, v in enumerate(d.values))
                for d in self.config_differences
            ]
        elif any(run.config_from for run in self.runs):
            lines.append(f"Configs: no differences ({self.same_config_keys} keys equal)")
        else:
            lines.append("Configs: none found for these sources")
        if self.chain is not None:
            lines.append("Interventions: " + self.chain.render())
        lines += [f"note: {p}" for p in self.problems]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class JournalView(ToolOutput, JournalPage):
    def render(self) -> str:
        head = (
            f"Journal '{self.experiment}': {self.entry_count} entr"
            f"{'y' if self.entry_count == 1 else 'ies'} (file: {self.path})"
        )
        return "\n".join(part for part in (head, self.markdown(), self.hint) if part)


class RestartView(ToolOutput, RestartResult):
    def render(self) -> str:
        changes = ", ".join(f"{c.key}: {c.old} -> {c.new}" for c in self.changes) or "none"
        lines = [
            f"Restarted {self.old_job_id} ({self.old_job_status}) as {self.new_job_id} "
            f"({self.new_job_status}) on {self.backend}.",
            f"Config changes: {changes}"
            + (f" (file {self.config_file})" if self.config_file else ""),
            f"Journal '{self.experiment}' entry #{self.journal_entry.index} recorded.",
        ]
        lines += [f"note: {note}" for note in self.notes]
        lines.append(self.hint)
        return "\n".join(lines)
