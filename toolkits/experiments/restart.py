"""Restart a job with a changed config: the documented fix, applied and written down.

The edited config is written as a new file next to the original (so it stays inside the
job's working_dir, which the ray backend uploads), the job is resubmitted through the jobs
toolkit with the same spec apart from the config, the new job names the old one as its parent,
and the journal gets an entry with both job ids. The old job is stopped after the new one is
accepted, so a refused submission leaves the running job alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from server.errors import UserError
from server.notify import notify
from server.roots import current as current_roots
from server.settings import Settings
from server.state import StateStore
from toolkits.experiments import journal
from toolkits.experiments.config_edit import edit_config, flatten, load_config
from toolkits.experiments.gains import ChainGains, gain_numbers, gains_so_far
from toolkits.experiments.journal import JournalEntry, JournalInput
from toolkits.experiments.sources.jobs import JobInfo, config_path, job_info, job_service

_RESTART_SUFFIX = re.compile(r"\.restart-[A-Za-z0-9-]+$")
MAX_LINEAGE = 100


class ConfigChange(BaseModel):
    key: str
    old: Any = None
    new: Any = None


class RestartResult(BaseModel):
    old_job_id: str
    old_job_status: str = Field(description="After stopping it (if it was still running).")
    new_job_id: str
    new_job_status: str
    backend: str
    config_file: str | None = Field(default=None, description="The new job's config file.")
    changes: list[ConfigChange]
    experiment: str = Field(description="The journal the restart was recorded in.")
    journal_entry: JournalEntry
    notes: list[str] = Field(default_factory=list)
    hint: str


def restart(
    settings: Settings,
    store: StateStore,
    job_id: str,
    config_changes: dict[str, Any],
    reason: str,
    experiment: str | None = None,
    allow_new_keys: bool = False,
    stop_old_job: bool = True,
) -> RestartResult:
    """Cancel a job (optionally), write its config with ``config_changes`` applied next to
    the old one, resubmit it and journal the decision.

    Raises UserError for a job without config_file, a key that is not in the config (unless
    allow_new_keys), a config outside the roots, or a config that cannot be written;
    NotFoundError for an unknown job.
    """
    from toolkits.jobs.chains import chain_of

    service = job_service(settings, store)
    notes: list[str] = []
    position = chain_of(store, service.get(job_id).job_id)
    if position.moved:  # never fork a job that already has a successor
        notes.append(position.note("restarted"))
    old = job_info(service.refresh(position.newest))
    job_id = old.job_id
    name = journal.validate_name(experiment) if experiment else experiment_for(store, service, old)
    spec = old.record.spec.model_copy(deep=True)
    changes: list[ConfigChange] = []
    new_config: Path | None = None
    text = ""
    if config_changes:
        source = config_path(old)
        if source is None:
            raise UserError(
                f"Job {job_id} was submitted without config_file, so there is no config to "
                f"change. Restart with config_changes={{}} (same settings), or submit a new job "
                f"with jobs_submit(config_file=...)."
            )
        text, applied = edit_config(source, config_changes, allow_new_keys)
        changes = [ConfigChange(key=k, old=o, new=n) for k, (o, n) in applied.items()]
        new_config = _unused_name(source, job_id)
        spec.config_file = _same_style(spec.config_file or "", new_config)
        spec.script_args = _swap_config_args(spec.script_args, source, new_config, old)
        if _sets_log_dir(source):
            notes.append(
                "the config sets log_dir, so the new run may log into the old run's "
                "directory; change log_dir too if its metrics must stay apart"
            )
    if new_config is not None:
        try:
            # A new file renamed into place: a symlink planted at the name is replaced.
            current_roots().write_atomic(new_config, text.encode("utf-8"), what="new config")
        except OSError as exc:
            raise UserError(
                f"Cannot write the new config next to the old one ({new_config}): "
                f"{exc.strerror}. Make that directory writable."
            ) from None
    so_far = gains_so_far(settings, store, old.job_id)  # before the new job joins the chain
    try:
        new = job_info(service.submit(spec, parent_job_id=old.job_id))
    except Exception:
        if new_config is not None:
            new_config.unlink(missing_ok=True)
        raise
    old_status = old.status
    if stop_old_job and old.running:
        try:
            old_status = job_info(service.cancel(old.job_id)).status
            notes.append(f"stopped {old.job_id} (was {old.status})")
        except UserError as exc:  # the new job runs regardless; the journal must still say so
            notes.append(f"could not stop {old.job_id}: {exc}; stop it with jobs_cancel")
    entry = journal.append(
        settings, store, name, _journal_input(old, new, changes, reason, old_status, so_far)
    )
    notify(
        settings,
        store,
        "restart",
        old.job_id,
        f"{name}: {entry.decision}",
        {
            "experiment": name,
            "reason": reason,
            "old_job_id": old.job_id,
            "new_job_id": new.job_id,
            "old_job_status": old_status,
        },
        once=True,
    )
    return RestartResult(
        old_job_id=old.job_id,
        old_job_status=old_status,
        new_job_id=new.job_id,
        new_job_status=new.status,
        backend=new.backend,
        config_file=str(new_config) if new_config else spec.config_file,
        changes=changes,
        experiment=name,
        journal_entry=entry,
        notes=notes,
        hint=(
            f"Follow it with jobs_status(job_id={new.job_id!r}, wait_s=55), then "
            f"experiments_check(source={new.job_id!r}, preferences=...)."
        ),
    )


def _journal_input(
    old: JobInfo,
    new: JobInfo,
    changes: list[ConfigChange],
    reason: str,
    old_status: str,
    so_far: ChainGains | None,
) -> JournalInput:
    changed = ", ".join(f"{c.key} {c.old} -> {c.new}" for c in changes) or "no config change"
    numbers: dict[str, Any] = {c.key: c.new for c in changes if _is_figure(c.new)}
    numbers.update({f"{c.key} (before)": c.old for c in changes if _is_figure(c.old)})
    numbers.update(gain_numbers(so_far) if so_far else {})
    gained = f"; so far: {so_far.line()}" if so_far and len(so_far.job_ids) > 1 else ""
    return JournalInput(
        observation=reason,
        decision=f"restart {old.job_id} as {new.job_id} with {changed}",
        action=(
            f"experiments_restart: submitted {new.job_id} on {new.backend} "
            f"(parent {old.job_id}); {old.job_id} is {old_status}{gained}"
        ),
        job_ids=[old.job_id, new.job_id],
        numbers=numbers,
    )


def _is_figure(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def experiment_for(store: StateStore, service: Any, job: JobInfo) -> str:
    """Where a restart is journaled when the caller names no experiment: the journal that
    already follows this job, else the job's name, else the first job of its lineage."""
    known = journal.experiment_of_job(store, job.job_id)
    if known:
        return known
    if job.name:
        return journal.safe_name(job.name)
    root = job
    for _ in range(MAX_LINEAGE):
        if not root.parent_job_id:
            break
        try:
            root = job_info(service.get(root.parent_job_id))
        except UserError:
            break
    return journal.safe_name(root.job_id)


def _unused_name(source: Path, job_id: str) -> Path:
    stem = _RESTART_SUFFIX.sub("", source.stem)
    for attempt in range(1, 1000):
        candidate = source.with_name(f"{stem}.restart-{job_id}-{attempt}{source.suffix}")
        if not candidate.exists():
            return candidate
    raise UserError(f"Too many restarts of {job_id} next to {source}; clean up old configs.")


def _same_style(original: str, new_path: Path) -> str:
    """Keep a relative config_file relative (same folder), an absolute one absolute."""
    if not original or Path(original).is_absolute():
        return str(new_path)
    return str(Path(original).with_name(new_path.name))


def _swap_config_args(args: list[str], old: Path, new: Path, job: JobInfo) -> list[str]:
    """Point ``--config old.yaml`` (or ``--config=old.yaml``) at the new file."""
    base = Path(getattr(job.record, "working_dir", None) or Path.cwd())
    swapped = []
    for arg in args:
        flag, equals, value = (
            arg.rpartition("=") if arg.startswith("-") and "=" in arg else ("", "", arg)
        )
        candidate = Path(value).expanduser()
        resolved = candidate if candidate.is_absolute() else base / candidate
        if value and resolved.resolve() == old.resolve():
            value = str(candidate.with_name(new.name))
        swapped.append(f"{flag}{equals}{value}")
    return swapped


def _sets_log_dir(config: Path) -> bool:
    """Whether the config pins its own log directory (then old and new runs share it)."""
    flat = flatten(load_config(config))
    return any(key.rsplit(".", 1)[-1] == "log_dir" and value for key, value in flat.items())
