"""The run store tells a run whose process died from one another live server still drives,
including a dead owner whose pid was reused by an unrelated process."""

from __future__ import annotations

import os
import subprocess
import sys

from server.settings import Settings
from server.state import StateStore
from toolkits.tasks.store import RunStore, process_start_time, this_process


def test_only_runs_of_dead_processes_become_interrupted(settings: Settings) -> None:
    store = RunStore(StateStore(settings.state_path))
    probe = [sys.executable, "-c", "import os; print(os.getpid())"]
    dead_pid = int(
        subprocess.run(probe, capture_output=True, text=True, check=True, timeout=30).stdout
    )
    parent = os.getppid()  # alive for the whole test, and not us
    parent_owner = f"{parent}:{process_start_time(parent)}"
    names = ("dead", "reused", "other", "mine", "done")
    runs = {name: store.create("task", name, {}).run_id for name in names}
    store.update(runs["dead"], owner=f"{dead_pid}:12345")
    store.update(
        runs["reused"], owner=f"{parent}:1"
    )  # a live pid, but not the process that owned it
    store.update(runs["other"], owner=parent_owner, status="awaiting_approval")
    store.update(runs["done"], owner=f"{dead_pid}:12345", status="completed")

    interrupted = RunStore(StateStore(settings.state_path)).mark_orphans_interrupted()

    assert sorted(interrupted) == sorted([runs["dead"], runs["reused"]])
    assert store.get(runs["dead"]).status == "interrupted"
    assert store.get(runs["other"]).status == "awaiting_approval"
    assert (
        store.get(runs["mine"]).status == "running"
        and store.get(runs["mine"]).owner == this_process()
    )
    assert store.get(runs["done"]).status == "completed"


def test_events_page_in_order(settings: Settings) -> None:
    store = RunStore(StateStore(settings.state_path))
    run_id = store.create("task", "t", {}).run_id
    for n in range(5):
        seq = store.add_event(run_id, "iteration", f"step {n + 1}", {"iteration": n + 1}, 0.0)
        assert seq == n + 1
    first, rest = store.events(run_id, since=0, limit=2), store.events(run_id, since=2, limit=10)
    assert [e.seq for e in first] == [1, 2] and [e.seq for e in rest] == [3, 4, 5]
    assert store.get(run_id).last_seq == 5
