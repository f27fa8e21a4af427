"""The on-disk series cache: a restarted server loads a long log's parsed series instead of
parsing it again, reads on from the saved offset, and trusts the copy only for the same file
grown by appending. Private, atomic, never through a symlink, never holding a secret."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import pytest

from toolkits.experiments.sources import series_cache, tables
from toolkits.experiments.sources.incremental import forget_all

ROWS = series_cache.MIN_POINTS + 1000
FAKE_TOKEN = "hf_" + "Q" * 34


def write_log(path: Path, rows: int, *, tag: str = "train/loss", start: int = 0) -> None:
    with path.open("a") as out:
        out.writelines(
            json.dumps({"step": s, tag: 1.0 / (1 + s)}) + "\n" for s in range(start, start + rows)
        )


def cache_files(home: Path) -> list[Path]:
    folder = home.joinpath(*series_cache.FOLDER)
    return sorted(folder.glob("*.npz")) if folder.is_dir() else []


@pytest.fixture
def home() -> Path:
    return Path(os.environ["MLINTERN_HOME"])


@pytest.fixture(autouse=True)
def restarted():
    """Every test starts, and ends, as a freshly started server: no cursor in memory."""
    forget_all()
    yield
    series_cache.wait_for_saves()
    forget_all()


def cached_log(path: Path, home: Path) -> Path:
    """A long log read once: the one copy of its series saved on disk."""
    write_log(path, ROWS)
    tables.read_jsonl(path)
    assert series_cache.wait_for_saves()
    [saved] = cache_files(home)
    return saved


def read_fresh(path: Path) -> tables.TableCursor:
    """As a restarted server reads: nothing in memory, only what is on disk."""
    forget_all()
    return tables.read_jsonl(path)


def loss(cursor: tables.TableCursor, tag: str = "train/loss") -> tuple[list[int], list[float]]:
    series = cursor.buffers[tag].freeze(tag)
    return series.steps.tolist(), series.values.tolist()


def test_a_restarted_server_loads_the_series_and_reads_only_what_was_appended(
    tmp_path: Path, home: Path
) -> None:
    path = tmp_path / "metrics.jsonl"
    saved = cached_log(path, home)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    write_log(path, 10, start=ROWS)  # the run went on while the server was down
    cursor = read_fresh(path)
    # Loaded, not parsed: the copy's points, plus ten parsed (too few to save again).
    assert cursor.saved_points == ROWS
    steps, values = loss(cursor)
    assert steps == list(range(ROWS + 10))
    assert values[-1] == 1.0 / (ROWS + 10)
    assert cursor.offset == path.stat().st_size


def test_a_file_rewritten_in_place_is_parsed_again(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    cached_log(path, home)
    data = path.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    changed = json.dumps({"step": ROWS - 1, "train/loss": float("nan")}).encode()
    assert len(changed) <= len(last)
    with path.open("r+b") as handle:  # same inode, same size, other bytes
        handle.seek(len(data) - len(last) - 1)
        handle.write(changed.ljust(len(last)) + b"\n")
    assert path.stat().st_size == len(data)
    _steps, values = loss(read_fresh(path))
    assert len(values) == ROWS and math.isnan(values[-1])


def test_a_replaced_file_is_parsed_again(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    cached_log(path, home)
    other = tmp_path / "other.jsonl"
    write_log(other, ROWS + 5, tag="val/acc")
    other.replace(path)  # a new inode under the same name, longer than the saved offset
    cursor = read_fresh(path)
    assert list(cursor.buffers) == ["val/acc"]


def test_a_symlink_planted_as_the_cache_file_is_not_followed(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    saved = cached_log(path, home)
    elsewhere = tmp_path / "elsewhere.npz"
    saved.replace(elsewhere)
    saved.symlink_to(elsewhere)  # a valid copy, but reached through a link
    write_log(path, 10, start=ROWS)
    cursor = read_fresh(path)
    # Parsed in full, and so saved again (a load would leave saved_points at ROWS).
    assert cursor.saved_points == cursor.points == ROWS + 10
    assert series_cache.wait_for_saves()
    assert not saved.is_symlink() and elsewhere.stat().st_size > 0  # replaced, not written through


def test_names_that_look_like_secrets_are_never_cached(tmp_path: Path, home: Path) -> None:
    planted = tmp_path / "planted.jsonl"
    write_log(planted, ROWS, tag=f"token/{FAKE_TOKEN}")
    tables.read_jsonl(planted)
    assert series_cache.wait_for_saves()
    assert cache_files(home) == []
    for found in home.rglob("*"):
        assert FAKE_TOKEN.encode() not in found.read_bytes() if found.is_file() else True
    # Control: the same log with a plain name is cached.
    plain = tmp_path / "plain.jsonl"
    write_log(plain, ROWS)
    tables.read_jsonl(plain)
    assert series_cache.wait_for_saves()
    assert len(cache_files(home)) == 1


def test_small_logs_get_no_cache_file(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    write_log(path, 100)
    tables.read_jsonl(path)
    assert series_cache.wait_for_saves()
    assert cache_files(home) == []


def test_a_damaged_copy_costs_a_parse_not_a_failed_read(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    saved = cached_log(path, home)
    saved.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])  # cut in half
    write_log(path, 10, start=ROWS)
    cursor = read_fresh(path)
    assert loss(cursor)[0] == list(range(ROWS + 10))
    assert cursor.saved_points == ROWS + 10  # parsed in full and saved anew


def test_the_cache_stays_under_its_size_bound(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_log(first, ROWS)
    write_log(second, ROWS)
    tables.read_jsonl(first)
    assert series_cache.wait_for_saves()
    [kept_before] = cache_files(home)
    # Room for one copy only: saving the second drops the least recently used first one.
    monkeypatch.setattr(series_cache, "MAX_BYTES", kept_before.stat().st_size + 1000)
    tables.read_jsonl(second)
    assert series_cache.wait_for_saves()
    [kept] = cache_files(home)
    assert kept != kept_before
