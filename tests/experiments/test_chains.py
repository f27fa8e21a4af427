"""Restart chains are first-class: given an older job of a chain, experiments_check, experiments_restart
and watch act on the newest job and say so; a job with a successor is never forked again."""

from __future__ import annotations

import pytest
from test_with_jobs import finished  # the same poll, shared

from agent.watch import JobChain, journal_name
from toolkits.experiments import core, journal
from toolkits.experiments.restart import restart
from toolkits.jobs.chains import chain_of, successor
from toolkits.jobs.core import JobSpec

CRASH_PREFS = """
```yaml
experiment: chain-prefs
rules:
  - name: crashed
    when: crashed
    action: restart
```
"""


@pytest.fixture
def chain(jobs) -> list[str]:
    """j1 → j2 → j3, every one crashed and finished (as a diverging run would)."""
    spec = JobSpec(command="exit 5", name="chained run")
    ids = [jobs.submit(spec).job_id]
    for _ in range(2):
        ids.append(jobs.submit(spec, parent_job_id=ids[-1]).job_id)
    for job_id in ids:
        finished(jobs, job_id)
    return ids


def test_chain_of_walks_both_ways(store, chain) -> None:
    j1, j2, j3 = chain
    for job in chain:
        position = chain_of(store, job)
        assert position.job_ids == chain and position.newest == j3
    assert successor(store, j1) == j2 and successor(store, j3) is None
    assert chain_of(store, j1).note() == (
        f"{j1} was already restarted ({j1} → {j2} → {j3}); acting on the newest job of its "
        f"chain, {j3}"
    )
    assert not chain_of(store, j3).moved  # positive control: the newest is not redirected


def test_check_on_an_older_job_judges_the_newest_and_says_so(settings, store, chain) -> None:
    j1, j2, j3 = chain
    old = core.check(settings, store, j1, CRASH_PREFS)
    assert old.job_id == j3 and old.source == j3
    assert old.warnings[0] == (
        f"{j1} was already restarted ({j1} → {j2} → {j3}); checking the newest job of its "
        f"chain, {j3}"
    )
    assert old.actions[0].call.startswith(f"experiments_restart(job_id='{j3}'")
    newest = core.check(settings, store, j3, CRASH_PREFS)
    assert newest.job_id == j3 and not any("already restarted" in w for w in newest.warnings)


def test_restart_of_an_older_job_restarts_the_newest(settings, store, jobs, chain) -> None:
    j1, j2, j3 = chain
    result = restart(settings, store, j1, {}, "crashed again")
    assert result.old_job_id == j3
    assert jobs.get(result.new_job_id).parent_job_id == j3
    assert successor(store, j1) == j2  # j1 was not forked
    assert result.notes[0] == (
        f"{j1} was already restarted ({j1} → {j2} → {j3}); restarted the newest job of its "
        f"chain, {j3}"
    )
    finished(jobs, result.new_job_id)


def test_watch_starts_from_the_newest_and_uses_the_preferences_journal(
    settings, store, chain, tmp_path
) -> None:
    j1, _j2, j3 = chain
    watched = JobChain(settings, j1)
    assert watched.current == j3 and watched.ids() == chain
    assert watched.note is not None and watched.note.endswith(
        f"watching the newest job of its chain, {j3}"
    )
    assert watched.follow() is None
    prefs = tmp_path / "preferences.md"
    prefs.write_text(CRASH_PREFS)
    assert journal_name(settings, watched, prefs) == "chain-prefs"
    unnamed = tmp_path / "unnamed.md"
    unnamed.write_text(CRASH_PREFS.replace("experiment: chain-prefs\n", ""))
    # without a name in preferences.md: the journal experiments_restart would pick
    assert journal_name(settings, watched, unnamed) == journal.safe_name("chained run")
