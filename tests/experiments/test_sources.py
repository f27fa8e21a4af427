"""Each source kind read correctly, including logs that are still being written."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest
from experiments_world import run_trackio, write_scalars

from server.errors import NotFoundError, UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.experiments.sources import locate, read
from toolkits.experiments.sources.crc32c import masked_crc32c
from toolkits.experiments.sources.incremental import cursor_for
from toolkits.experiments.sources.tfevents import EventFileCursor


def values(snapshot, tag: str) -> list[float]:
    return snapshot.series[tag].values.tolist()


def snap(settings: Settings, store: StateStore, source: str | Path):
    return read(locate(str(source), settings, store))


def the_event_file(log_dir: Path) -> Path:
    (path,) = log_dir.glob("events.out.tfevents.*")
    return path


def test_tensorboard_scalars_old_and_new_style(settings, store, tmp_path) -> None:
    write_scalars(tmp_path / "old", {"train/loss": [3.0, 2.0, float("nan"), 1.0]})
    # TF2 style: a tensor with plugin metadata only on the tag's first event.
    write_scalars(
        tmp_path / "new", {"val/acc": [0.1, 0.5, 0.75]}, every={"val/acc": 10}, new_style=True
    )
    old = snap(settings, store, tmp_path / "old")
    assert old.kind == "tensorboard"
    assert old.series["train/loss"].steps.tolist() == [0, 1, 2, 3]
    got = values(old, "train/loss")
    assert got[:2] == [3.0, 2.0] and math.isnan(got[2]) and got[3] == 1.0
    new = snap(settings, store, tmp_path / "new")
    assert new.series["val/acc"].steps.tolist() == [0, 10, 20]
    assert values(new, "val/acc") == pytest.approx([0.1, 0.5, 0.75])


def test_subdirectories_become_tag_prefixes(settings, store, tmp_path) -> None:
    write_scalars(tmp_path / "runs" / "a", {"loss": [1.0, 0.5]})
    write_scalars(tmp_path / "runs" / "b", {"loss": [2.0]})
    snapshot = snap(settings, store, tmp_path / "runs")
    assert sorted(snapshot.series) == ["a/loss", "b/loss"]
    assert values(snapshot, "b/loss") == [2.0]


def test_growing_event_file_reads_only_new_records(settings, store, tmp_path) -> None:
    writer = write_scalars(tmp_path, {"loss": [float(i) for i in range(50)]}, close=False)
    first = snap(settings, store, tmp_path)
    assert len(first.series["loss"]) == 50
    path = the_event_file(tmp_path)
    cursor = cursor_for(path, "tfevents", EventFileCursor)
    offset_after_first = cursor.offset
    assert offset_after_first == path.stat().st_size

    for step in range(50, 80):
        writer.add_scalar("loss", float(step), step)
    writer.flush()
    second = snap(settings, store, tmp_path)
    writer.close()
    assert second.series["loss"].steps.tolist() == list(range(80))
    assert values(second, "loss") == [float(i) for i in range(80)]
    # The same cursor advanced past the new bytes; nothing was re-read from the start.
    assert cursor_for(path, "tfevents", EventFileCursor) is cursor
    assert cursor.offset > offset_after_first


def test_partial_record_at_the_end_waits_for_the_rest(settings, store, tmp_path) -> None:
    write_scalars(tmp_path / "full", {"loss": [1.0, 2.0, 3.0]})
    data = the_event_file(tmp_path / "full").read_bytes()
    live = tmp_path / "live"
    live.mkdir()
    target = live / "events.out.tfevents.1.host"
    cut = len(data) - 7  # inside the last record, as a writer caught mid-flush leaves it
    target.write_bytes(data[:cut])
    assert values(snap(settings, store, live), "loss") == [1.0, 2.0]
    with target.open("ab") as handle:
        handle.write(data[cut:])
    assert values(snap(settings, store, live), "loss") == [1.0, 2.0, 3.0]


def test_corrupt_record_is_skipped_and_reported(settings, store, tmp_path) -> None:
    write_scalars(tmp_path, {"loss": [1.0, 2.0, 3.0]})
    path = the_event_file(tmp_path)
    data = bytearray(path.read_bytes())
    # Walk the framing to the second scalar record and flip a byte of its payload.
    position, records = 0, []
    while position < len(data):
        (length,) = struct.unpack_from("<Q", data, position)
        records.append((position, length))
        position += 16 + length
    start, length = records[2]  # records[0] is the file_version event
    assert (
        masked_crc32c(bytes(data[start + 12 : start + 12 + length]))
        == struct.unpack_from("<I", data, start + 12 + length)[0]
    )
    data[start + 12 + length - 1] ^= 0xFF
    path.write_bytes(bytes(data))
    snapshot = snap(settings, store, path)
    assert values(snapshot, "loss") == [1.0, 3.0]
    assert any("failed their CRC" in problem for problem in snapshot.problems)


def test_replaced_file_is_read_from_the_start(settings, store, tmp_path) -> None:
    write_scalars(tmp_path / "a", {"loss": [1.0, 2.0, 3.0]})
    path = the_event_file(tmp_path / "a")
    assert values(snap(settings, store, path), "loss") == [1.0, 2.0, 3.0]
    write_scalars(tmp_path / "b", {"loss": [9.0]})
    replacement = the_event_file(tmp_path / "b")
    replacement.replace(path)  # new inode at the same path, smaller than what was read
    assert values(snap(settings, store, path), "loss") == [9.0]


def test_jsonl_wide_long_nested_and_partial_line(settings, store, tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    rows = [
        {"step": 0, "train/loss": 2.0, "note": "warmup", "timestamp": 1_700_000_000},
        {"step": 1, "train": {"loss": 1.5}, "lr": 0.1},
        {"tag": "val/acc", "value": 0.5, "step": 1},
        {"step": 2, "train/loss": "NaN"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n" + '{"step": 3, "tr')
    first = snap(settings, store, path)
    assert first.kind == "jsonl"
    assert first.series["train/loss"].steps.tolist() == [0, 1, 2]
    loss = values(first, "train/loss")
    assert loss[:2] == [2.0, 1.5] and math.isnan(loss[2])
    assert values(first, "val/acc") == [0.5] and values(first, "lr") == [0.1]
    assert "note" not in first.series
    assert first.series["train/loss"].wall_times[0] == 1_700_000_000
    assert any("line 5 is not valid JSON" in p for p in first.problems)
    with path.open("a") as handle:  # the writer finishes its line, then adds one more
        handle.write('ain/loss": 0.5}\n{"step": 4, "train/loss": 0.25}\n')
    second = snap(settings, store, path)
    assert second.series["train/loss"].steps.tolist() == [0, 1, 2, 3, 4]
    assert values(second, "train/loss")[3:] == [0.5, 0.25]


def test_csv_with_header_and_growth(settings, store, tmp_path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "step,time,train_loss,val_acc,run\n0,2024-01-01T00:00:00Z,2.0,,a\n1,,1.0,0.5,a\n"
    )
    first = snap(settings, store, path)
    assert first.kind == "csv"
    assert values(first, "train_loss") == [2.0, 1.0]
    assert first.series["val_acc"].steps.tolist() == [1]
    assert "run" not in first.series
    assert first.series["train_loss"].wall_times[0] == 1704067200.0
    with path.open("a") as handle:
        handle.write("2,,inf,0.75,a\n")
    second = snap(settings, store, path)
    assert values(second, "train_loss") == [2.0, 1.0, math.inf]
    assert values(second, "val_acc") == [0.5, 0.75]


def test_trackio_project_run_and_growth(tmp_path) -> None:
    trackio_dir = tmp_path / "trackio"
    settings = Settings(home=tmp_path / "home", trackio_dir=trackio_dir, _env_file=None)  # type: ignore[call-arg]
    store = StateStore(settings.state_path)
    run_trackio(trackio_dir, "demo", "first", [{"loss": 1.0}], config={"lr": 0.1})
    run_trackio(
        trackio_dir,
        "demo",
        "second",
        [{"loss": 3.0, "acc": 0.1}, {"loss": float("nan"), "acc": 0.2}],
        config={"lr": 0.01},
    )
    latest = snap(settings, store, "trackio:demo")
    assert latest.kind == "trackio" and latest.run == "second"
    assert values(latest, "acc") == [0.1, 0.2]
    assert values(latest, "loss")[0] == 3.0 and math.isnan(values(latest, "loss")[1])
    named = snap(settings, store, "trackio:demo/first")
    assert values(named, "loss") == [1.0]
    # The run goes on in another process; only its new rows are read.
    run_trackio(trackio_dir, "demo", "first", [{"loss": 0.5}, {"loss": 0.25}])
    grown = snap(settings, store, "trackio:demo/first")
    assert grown.series["loss"].steps.tolist() == [0, 1, 2]
    assert values(grown, "loss") == [1.0, 0.5, 0.25]
    with pytest.raises(
        NotFoundError, match=r"No run 'third'.*Runs \(newest first\): second, first"
    ):
        locate("trackio:demo/third", settings, store)
    with pytest.raises(NotFoundError, match=r"No trackio project 'other'.*Projects there: demo"):
        locate("trackio:other", settings, store)


def test_missing_source_says_what_a_source_can_be(settings, store, tmp_path) -> None:
    with pytest.raises(
        NotFoundError, match="not an existing file or directory, not a known job id"
    ):
        locate(str(tmp_path / "nope"), settings, store)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match=r"not a metrics file this tool reads"):
        snap(settings, store, tmp_path / "notes.txt")


def test_empty_log_dir_reports_no_metrics(settings, store, tmp_path) -> None:
    snapshot = snap(settings, store, tmp_path)
    assert snapshot.series == {} and snapshot.kind == "empty"
    assert "holds no TensorBoard event files" in snapshot.problems[0]
