"""Event files of different processes in one folder are separate runs: a folder source reads the
newest and says so; a file source reads exactly that run."""

from __future__ import annotations

import math
from pathlib import Path

from experiments_world import experiments_server, mcp_client, write_scalars

from toolkits.experiments import core


def two_runs(folder: Path) -> tuple[Path, Path]:
    """An old diverged run and a newer healthy one, logged into the same folder."""
    staging = folder.parent / "staging"
    write_scalars(staging / "old", {"val/loss": [1.0, math.nan, math.nan]})
    write_scalars(staging / "new", {"val/loss": [1.0, 0.5, 0.25, 0.125]})
    folder.mkdir(parents=True)
    old = folder / "events.out.tfevents.1700000000.hostA.111.0"
    new = folder / "events.out.tfevents.1700000500.hostA.222.0"
    next((staging / "old").glob("events.*")).rename(old)
    next((staging / "new").glob("events.*")).rename(new)
    return old, new


def test_folder_reads_the_newest_run_and_says_so(settings, store, tmp_path: Path) -> None:
    old, new = two_runs(tmp_path / "runs")
    report = core.metrics(settings, store, str(tmp_path / "runs"), tags=["val/loss"])
    [loss] = report.tags
    assert (loss.points, loss.nan_count, loss.last) == (4, 0, 0.125)
    [note] = [p for p in report.problems if "holds 2 runs" in p]
    assert note.startswith(
        f"{tmp_path / 'runs'} holds 2 runs (one event file per training process)"
    )
    assert f"read the newest, {new.name} (started " in note and f"Older: {old.name}." in note
    # told otherwise: the file itself is that run alone
    alone = core.metrics(settings, store, str(old), tags=["val/loss"])
    assert (alone.tags[0].points, alone.tags[0].nan_count) == (3, 2)
    assert not any("holds" in p for p in alone.problems)


async def test_check_over_mcp_names_the_run_it_judged(settings, tmp_path: Path) -> None:
    _old, new = two_runs(tmp_path / "runs")
    prefs = tmp_path / "prefs.md"
    prefs.write_text(
        "```yaml\nmetrics:\n  val/loss:\n    goal: minimize\n    threshold: 0.5\n```\n"
    )
    async with mcp_client(experiments_server(settings)) as client:
        result = await client.call_tool(
            "experiments_check", {"source": str(tmp_path / "runs"), "preferences": str(prefs)}
        )
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("PASSED")  # the diverged older run was not merged in
    assert f"warning: {tmp_path / 'runs'} holds 2 runs" in text and new.name in text
