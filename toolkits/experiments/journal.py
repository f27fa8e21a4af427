"""The experiment journal: every observation and decision, for a person to read later.

The state store is the record; ``<MLINTERN_HOME>/experiments/<name>/journal.md`` is rewritten
from it after each append, so the file is always whole and a deleted file comes back.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from server.errors import NotFoundError, UserError
from server.private import private_dir
from server.redact import redact
from server.settings import Settings
from server.state import StateStore, dumps, loads

COMPONENT = "experiments"
MIGRATIONS = [
    """
    CREATE TABLE experiment_journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment TEXT NOT NULL,
        created_at REAL NOT NULL,
        observation TEXT NOT NULL,
        decision TEXT NOT NULL,
        action TEXT,
        job_ids TEXT NOT NULL,
        numbers TEXT NOT NULL
    );
    CREATE INDEX experiment_journal_by_name ON experiment_journal(experiment, id);
    """
]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# Bounded so the tool schema is too; figures beyond these are typos, not measurements.
Number = (
    Annotated[float, Field(ge=-1e300, le=1e300)]
    | Annotated[int, Field(ge=-(10**18), le=10**18)]
    | Annotated[str, Field(max_length=200)]
    | None
)
JobId = Annotated[str, Field(min_length=1, max_length=64)]


class JournalInput(BaseModel):
    """What to record, with numbers."""

    observation: str = Field(min_length=1, max_length=4000)
    decision: str = Field(min_length=1, max_length=1000, description="And why.")
    action: str | None = Field(default=None, max_length=1000)
    job_ids: list[JobId] = Field(default_factory=list, max_length=20)
    numbers: dict[str, Number] = Field(default_factory=dict, max_length=30)


class JournalEntry(JournalInput):
    index: int = Field(description="Position in the journal, from 0.")
    entry_id: int = Field(exclude=True, default=0)
    experiment: str
    time: str = Field(description="UTC, ISO 8601.")

    def markdown(self) -> str:
        lines = [
            f"## {self.time.replace('T', ' ').rstrip('Z')} UTC — {_headline(self.decision)}",
            "",
            f"- **Observation:** {self.observation}",
            f"- **Decision:** {self.decision}",
        ]
        if self.action:
            lines.append(f"- **Action:** {self.action}")
        if self.job_ids:
            lines.append(f"- **Jobs:** {' → '.join(self.job_ids)}")
        if self.numbers:
            figures = ", ".join(f"{k} = {_figure(v)}" for k, v in self.numbers.items())
            lines.append(f"- **Numbers:** {figures}")
        return "\n".join(lines) + "\n"


class JournalPage(BaseModel):
    experiment: str
    path: str = Field(description="The Markdown file a person can open.")
    entry_count: int
    first_index: int
    entries: list[JournalEntry]
    truncated: bool = Field(description="True when entries exist outside this window.")
    hint: str | None = None

    def markdown(self) -> str:
        return "\n".join(entry.markdown() for entry in self.entries)


def validate_name(experiment: str) -> str:
    """``experiment`` when it is a valid journal name; UserError otherwise."""
    experiment = experiment.strip()
    if not _NAME.match(experiment):
        raise UserError(
            f"Invalid experiment name {experiment!r}: use 1-64 letters, digits, '.', "
            f"'_' or '-', starting with a letter or digit."
        )
    return experiment


def safe_name(text: str) -> str:
    """An experiment name derived from free text (a job name)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:64]
    return cleaned or "experiment"


def journal_path(settings: Settings, experiment: str) -> Path:
    """The Markdown file of an experiment's journal under MLINTERN_HOME."""
    return settings.home / "experiments" / experiment / "journal.md"


def append(
    settings: Settings, store: StateStore, experiment: str, entry: JournalInput
) -> JournalEntry:
    """Add a redacted entry to an experiment's journal (state and Markdown file).

    Raises UserError for an invalid experiment name.
    """
    experiment = validate_name(experiment)
    store.migrate(COMPONENT, MIGRATIONS)
    now = time.time()
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO experiment_journal(experiment, created_at, observation, decision, "
            "action, job_ids, numbers) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                experiment,
                now,
                entry.observation,
                entry.decision,
                entry.action,
                dumps(entry.job_ids),
                json.dumps(entry.numbers),  # in the order given, unlike dumps()
            ),
        )
        entries = _entries(conn, experiment)
        # Written inside the write transaction: concurrent appends cannot leave a stale file.
        _write_file(settings, experiment, entries)
    index = next(e.index for e in entries if e.entry_id == cursor.lastrowid)
    return entries[index]


def read(
    settings: Settings,
    store: StateStore,
    experiment: str,
    offset: int | None = None,
    limit: int = 20,
) -> JournalPage:
    """One page of an experiment's journal, newest first.

    Raises UserError for an invalid name, NotFoundError (listing known ones) for no journal.
    """
    experiment = validate_name(experiment)
    entries = _all_entries(store, experiment)
    if not entries:
        known = known_experiments(store)
        raise NotFoundError(
            f"No journal for experiment {experiment!r}. Known: {', '.join(known) or 'none'}. "
            f"Start one with experiments_journal(experiment={experiment!r}, action='append', "
            "entry={...})."
        )
    total = len(entries)
    first = max(0, total - limit) if offset is None else min(offset, total)
    window = entries[first : first + limit]
    hints = []
    if first > 0:
        hints.append(f"earlier entries: offset={max(0, first - limit)}")
    if first + len(window) < total:
        hints.append(f"later entries: offset={first + len(window)}")
    hint = None
    if hints:
        hint = (
            f"Showing entries {first}-{first + len(window) - 1} of {total}; call "
            f"experiments_journal(experiment={experiment!r}, action='read', ...) with "
            + " or ".join(hints)
            + "."
        )
    return JournalPage(
        experiment=experiment,
        path=str(journal_path(settings, experiment)),
        entry_count=total,
        first_index=first,
        entries=window,
        truncated=bool(hints),
        hint=hint,
    )


def read_or_append(
    settings: Settings,
    store: StateStore,
    experiment: str,
    action: Literal["read", "append"],
    entry: JournalInput | None,
    offset: int | None,
    limit: int,
) -> JournalPage:
    """experiments_journal: append ``entry`` and show it, or read a window of entries.

    Raises UserError when ``entry`` and ``action`` disagree, NotFoundError for an unknown
    experiment on read."""
    if action == "append":
        if entry is None:
            raise UserError("action='append' needs entry={observation, decision, ...}.")
        append(settings, store, experiment, entry)
        return read(settings, store, experiment, None, 1)
    if entry is not None:
        raise UserError("entry is only used with action='append'; pass it with that.")
    return read(settings, store, experiment, offset, limit)


def known_experiments(store: StateStore, limit: int = 30) -> list[str]:
    """Names of the experiments that have a journal, most recent first."""
    store.migrate(COMPONENT, MIGRATIONS)
    with store.reading() as conn:
        rows = conn.execute(
            "SELECT experiment FROM experiment_journal GROUP BY experiment "
            "ORDER BY MAX(id) DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return [row["experiment"] for row in rows]


def experiment_of_job(store: StateStore, job_id: str) -> str | None:
    """The experiment whose journal already mentions ``job_id`` (most recent first)."""
    store.migrate(COMPONENT, MIGRATIONS)
    with store.reading() as conn:
        row = conn.execute(
            "SELECT experiment FROM experiment_journal WHERE job_ids LIKE ? ORDER BY id DESC "
            "LIMIT 1",
            (f'%"{job_id}"%',),
        ).fetchone()
    return row["experiment"] if row else None


def last_entry(store: StateStore, experiment: str) -> JournalEntry | None:
    entries = _all_entries(store, experiment)
    return entries[-1] if entries else None


def _all_entries(store: StateStore, experiment: str) -> list[JournalEntry]:
    store.migrate(COMPONENT, MIGRATIONS)
    with store.reading() as conn:
        return _entries(conn, experiment)


def _entries(conn: sqlite3.Connection, experiment: str) -> list[JournalEntry]:
    rows = conn.execute(
        "SELECT * FROM experiment_journal WHERE experiment = ? ORDER BY id", (experiment,)
    ).fetchall()
    return [
        JournalEntry(
            index=i,
            entry_id=row["id"],
            experiment=experiment,
            time=_iso(row["created_at"]),
            observation=row["observation"],
            decision=row["decision"],
            action=row["action"],
            job_ids=loads(row["job_ids"], []),
            numbers=loads(row["numbers"], {}),
        )
        for i, row in enumerate(rows)
    ]


def _write_file(settings: Settings, experiment: str, entries: list[JournalEntry]) -> None:
    path = journal_path(settings, experiment)
    private_dir(path.parent)
    header = (
        f"# Experiment journal: {experiment}\n\nWritten by mlintern's experiments tools; "
        "each entry records what was seen, what was decided and which jobs it concerns.\n\n"
    )
    body = "\n".join(entry.markdown() for entry in entries)
    # Write-then-rename: a reader never sees half a file.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".journal-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(redact(header + body, settings.secret_values()))  # mkstemp: 0600
    os.replace(temp, path)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _headline(decision: str) -> str:
    first = decision.strip().splitlines()[0] if decision.strip() else "entry"
    return first if len(first) <= 80 else first[:79] + "…"


def _figure(value: Number) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
