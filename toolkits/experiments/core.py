"""The experiments toolkit's plain functions (no MCP): read, judge, plot, compare, journal.

``experiments_restart`` lives in ``restart.py`` (it needs the jobs toolkit); comparison in
``compare.py``; the journal in ``journal.py``.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from server.settings import Settings
from server.state import StateStore
from toolkits.experiments import plotting
from toolkits.experiments.diagnosis import attach, diagnose
from toolkits.experiments.preferences import Preferences, load_preferences
from toolkits.experiments.rules import CheckReport, report
from toolkits.experiments.sources import Snapshot, locate, read
from toolkits.experiments.sources.jobs import newest_of_chain
from toolkits.experiments.summary import TagSummary, summarize
from toolkits.experiments.tag_select import select_tags
from toolkits.experiments.verdicts import judge

MAX_TAGS = 20
# Series points across all tags of one answer, so 20 tags x 2000 points cannot flood a context.
MAX_TOTAL_POINTS = 6000
MAX_LISTED_TAGS = 200


class MetricsReport(BaseModel):
    source: str
    kind: str = Field(description="tensorboard | trackio | mlflow | wandb | jsonl | csv | empty")
    job_id: str | None = None
    job_status: str | None = None
    run: str | None = Field(default=None, description="The trackio run read.")
    tag_count: int
    tags_available: list[str] = Field(description=f"Every tag (first {MAX_LISTED_TAGS}).")
    tags: list[TagSummary]
    truncated: bool = False
    next_tag_offset: int | None = None
    hint: str | None = None
    problems: list[str] = Field(default_factory=list)
    read_seconds: float = Field(
        description="Time spent reading (new data only after a first read)."
    )


def snapshot(settings: Settings, store: StateStore, source: str) -> tuple[Snapshot, float]:
    """Every metric series of ``source`` (job id, log dir or file) and the seconds it took.

    Raises UserError for a source outside the roots or in no known format, NotFoundError for a
    missing job or file.
    """
    started = time.perf_counter()
    result = read(locate(source, settings, store))
    return result, time.perf_counter() - started


def metrics(
    settings: Settings,
    store: StateStore,
    source: str,
    tags: list[str] | None = None,
    max_points: int = 200,
    since_step: int | None = None,
    tag_offset: int = 0,
    now: float | None = None,
) -> MetricsReport:
    """The tags of ``source`` with each series downsampled to ``max_points`` (newer than
    ``since_step`` when given). Raises as ``snapshot`` does, and UserError when no tag matches.
    """
    snap, seconds = snapshot(settings, store, source)
    available = list(snap.series)
    chosen, problems = select_tags(available, tags) if available else ([], [])
    window = chosen[tag_offset : tag_offset + MAX_TAGS]
    more = tag_offset + len(window) < len(chosen)
    hint = None
    if more:
        hint = (
            f"{len(chosen)} tags match; showing {tag_offset}-{tag_offset + len(window) - 1}. "
            f"Call experiments_metrics(source={source!r}, tag_offset="
            f"{tag_offset + len(window)}) for the next ones, or pass tags=[...]."
        )
    per_tag = min(max_points, MAX_TOTAL_POINTS // max(1, len(window)))
    if per_tag < max_points:
        problems.append(
            f"series cut to {per_tag} points per tag to keep the answer small; ask for fewer "
            f"tags to get up to {max_points}"
        )
    job = snap.job
    return MetricsReport(
        source=source,
        kind=snap.kind,
        run=snap.run,
        job_id=job.job_id if job else None,
        job_status=job.status if job else None,
        tag_count=len(available),
        tags_available=available[:MAX_LISTED_TAGS],
        tags=[
            summarize(snap.series[t], max_points=per_tag, since_step=since_step, now=now)
            for t in window
        ],
        truncated=more,
        next_tag_offset=tag_offset + len(window) if more else None,
        hint=hint,
        problems=problems + snap.problems[:10],
        read_seconds=round(seconds, 4),
    )


def check(
    settings: Settings,
    store: StateStore,
    source: str,
    preferences: str | None = None,
    now: float | None = None,
) -> CheckReport:
    # A bad file is reported before any log is read; without one, the defaults judge.
    """Diagnose ``source`` against the user's preferences.md rules: health, verdicts per
    metric and the actions the rules recommend. Raises as ``snapshot`` does, and
    PreferencesError (a UserError naming the line) for a malformed preferences file.
    """
    given = load_preferences(preferences) if preferences else None
    prefs = given or Preferences(origin="defaults")
    # A restarted job's verdict would recommend forking it again: judge its newest successor.
    source, chain_note = newest_of_chain(settings, store, source.strip())
    snap, _seconds = snapshot(settings, store, source)
    facts = judge(snap, prefs, time.time() if now is None else now, settings)
    checked = attach(report(snap, prefs, facts), diagnose(snap, given), given is not None)
    if chain_note:
        checked.warnings.insert(0, chain_note)
    if checked.status == "action_needed":
        _announce_failed(settings, store, checked)
    return checked


def _announce_failed(settings: Settings, store: StateStore, checked: CheckReport) -> None:
    from server.notify import notify

    fired = [rule.name for rule in checked.rules if rule.fired]
    action = checked.actions[0] if checked.actions else None
    fields = {
        "source": checked.source,
        "job_id": checked.job_id,
        "job_status": checked.job_status,
        "experiment": checked.experiment,
        "fired_rules": ", ".join(fired) or None,
        "suggested": (action.call or action.action) if action else None,
    }
    key = checked.job_id or checked.source
    notify(settings, store, "verdict_failed", key, checked.summary, fields)


class PlotSummary(BaseModel):
    source: str
    tags: list[str]
    png_bytes: int
    width: int
    height: int
    path: str = Field(description="Where the PNG was saved (under MLINTERN_HOME/plots).")
    text: str = Field(description="Two lines for hosts that show no images.")


def plot(
    settings: Settings, store: StateStore, source: str, tags: list[str] | None = None
) -> tuple[bytes, PlotSummary]:
    """A PNG of the chosen tags of ``source``. Raises UserError when there is nothing to plot
    (or matplotlib is missing), and as ``snapshot`` does.
    """
    snap, _seconds = snapshot(settings, store, source)
    if not snap.series:
        from server.errors import UserError

        detail = "; ".join(snap.problems[:2]) or "it holds no scalar metrics yet"
        raise UserError(f"Nothing to plot for {source!r}: {detail}.")
    chosen, _problems = select_tags(list(snap.series), tags)
    chosen = chosen[: plotting.MAX_PANELS]
    png = plotting.render_png(source, [snap.series[t] for t in chosen])
    width, height = png_size(png)
    summaries = [summarize(snap.series[t], max_points=0) for t in chosen]
    steps = [s.last_step for s in summaries if s.last_step is not None]
    first_line = f"{source}: {len(chosen)} of {len(snap.series)} tags plotted" + (
        f", up to step {max(steps)}" if steps else ""
    )
    second_line = "; ".join(_one_figure(s) for s in summaries)
    saved = plotting.save_png(settings.home / "plots", source, png)
    text = first_line + "\n" + (second_line if len(second_line) < 400 else second_line[:399] + "…")
    text += f"\nsaved to {saved}"
    return png, PlotSummary(
        source=source,
        tags=chosen,
        png_bytes=len(png),
        width=width,
        height=height,
        path=str(saved),
        text=text,
    )


def _one_figure(summary: TagSummary) -> str:
    text = f"{summary.tag} last {_short(summary.last)}"
    if summary.best is not None:
        text += f" best {_short(summary.best.value)}"
    if summary.nan_count + summary.inf_count:
        text += f" ({summary.nan_count + summary.inf_count} NaN/Inf)"
    return text


def _short(value: float | str | None) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
