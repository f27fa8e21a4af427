"""datasets_inspect on local files: every supported layout, column paging, chat format, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pytest
from datasets_world import datasets_client, out, text
from fastmcp.exceptions import ToolError

from server.errors import NotFoundError
from server.settings import Settings
from toolkits.datasets import local
from toolkits.datasets.core import inspect_dataset

ROWS = [
    {
        "text": f"sentence number {i}" + "!" * (i % 4),
        "label": i % 3,
        "score": i / 10 if i != 7 else None,
    }
    for i in range(50)
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def copy_to(path: Path, rows: list[dict[str, Any]], options: str) -> Path:
    source = write_jsonl(path.with_suffix(".src.jsonl"), rows)
    duckdb.execute(f"COPY (SELECT * FROM read_json_auto('{source}')) TO '{path}' ({options})")
    source.unlink()
    return path


def arrow_stream(path: Path, rows: list[dict[str, Any]]) -> Path:
    """An Arrow IPC stream file, as `datasets` writes them (data-00000-of-00001.arrow)."""
    table = pa.Table.from_pylist(rows)
    with pa.OSFile(str(path), "wb") as sink, ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=16)
    return path


def save_to_disk(folder: Path, rows: list[dict[str, Any]], split: str) -> Path:
    folder.mkdir(parents=True)
    arrow_stream(folder / "data-00000-of-00001.arrow", rows)
    state = {"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": split}
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "dataset_info.json").write_text("{}")
    return folder


FORMATS = {
    "parquet": lambda d: copy_to(d / "rows.parquet", ROWS, "FORMAT parquet"),
    "csv": lambda d: copy_to(d / "rows.csv", ROWS, "FORMAT csv, HEADER"),
    "jsonl": lambda d: write_jsonl(d / "rows.jsonl", ROWS),
    "json-array": lambda d: (d / "rows.json").write_text(json.dumps(ROWS)) and d / "rows.json",
    "feather": lambda d: (
        feather.write_feather(pa.Table.from_pylist(ROWS), d / "rows.feather") or d / "rows.feather"
    ),
    "arrow-stream": lambda d: arrow_stream(d / "rows.arrow", ROWS),
    "save_to_disk": lambda d: save_to_disk(d / "saved", ROWS, "train"),
}


@pytest.mark.parametrize("layout", list(FORMATS))
def test_every_local_layout_gives_schema_counts_sample_and_stats(
    layout: str, local_settings: Settings, tmp_path: Path
) -> None:
    path = FORMATS[layout](tmp_path)
    report = inspect_dataset(local_settings, str(path), sample_rows=3)
    assert report.source == "local"
    assert [(s.name, s.rows, s.rows_exact) for s in report.splits] == [("train", 50, True)]
    assert [c.name for c in report.columns] == ["text", "label", "score"]
    assert report.sample_rows[0] == {"text": "sentence number 0", "label": 0, "score": 0.0}
    assert len(report.sample_rows) == 3
    columns = {c.name: c for c in report.columns}
    assert (columns["label"].min, columns["label"].max, columns["label"].approx_distinct) == (
        0,
        2,
        3,
    )
    assert columns["score"].nulls == 1
    assert columns["text"].length_min == len("sentence number 0")
    # Parquet answers nulls/min/max from its footers; the others from reading all 50 rows.
    assert columns["label"].stats_scope == ("metadata" if layout == "parquet" else "all_rows")


def test_save_to_disk_dataset_dict_and_split_choice(
    local_settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "dd"
    save_to_disk(root / "train", ROWS, "train")
    save_to_disk(root / "test", ROWS[:8], "test")
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    report = inspect_dataset(local_settings, str(root), split="test", sample_rows=1)
    assert {s.name: s.rows for s in report.splits} == {"train": 50, "test": 8}
    assert report.split == "test" and report.format == "arrow"
    with pytest.raises(NotFoundError) as caught:
        inspect_dataset(local_settings, str(root), split="dev")
    assert str(caught.value).startswith("No split 'dev' in ")
    assert str(caught.value).endswith(". Splits: train, test.")


def test_folder_of_files_is_split_by_file_names(local_settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "repo" / "data"
    data.mkdir(parents=True)
    copy_to(data / "train-00000-of-00002.parquet", ROWS[:20], "FORMAT parquet")
    copy_to(data / "train-00001-of-00002.parquet", ROWS[20:], "FORMAT parquet")
    copy_to(data / "validation-00000-of-00001.parquet", ROWS[:5], "FORMAT parquet")
    (tmp_path / "repo" / "README.md").write_text("# card")
    report = inspect_dataset(local_settings, str(tmp_path / "repo"))
    assert {s.name: (s.rows, s.files) for s in report.splits} == {
        "train": (50, 2),
        "validation": (5, 1),
    }
    assert report.split == "train"


def test_chat_columns_report_roles_and_turns(local_settings: Settings, tmp_path: Path) -> None:
    rows = [
        {
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
            * (1 + i % 3)
        }
        for i in range(30)
    ]
    report = inspect_dataset(local_settings, str(write_jsonl(tmp_path / "chat.jsonl", rows)))
    assert report.chat is not None
    assert report.chat.roles == {"user": 60, "assistant": 60}
    assert (report.chat.turns_min, report.chat.turns_max, report.chat.rows_checked) == (2, 6, 30)
    assert "chat format in 'messages'" in report.render()


def test_a_column_named_messages_that_is_not_chat_is_not_called_chat(
    local_settings: Settings, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", [{"messages": "plain text"}] * 3)
    assert inspect_dataset(local_settings, str(path)).chat is None


async def test_wide_tables_are_described_forty_columns_at_a_time(
    local_settings: Settings, tmp_path: Path, era: str
) -> None:
    wide = [{f"c{j:02d}": i * j for j in range(60)} for i in range(5)]
    path = copy_to(tmp_path / "wide.parquet", wide, "FORMAT parquet")
    async with datasets_client(local_settings, era) as c:
        first = await c.call_tool("datasets_inspect", {"dataset": str(path), "sample_rows": 1})
        page = out(first)
        assert len(page["columns"]) == 40 and page["columns_total"] == 60
        assert page["truncated"] and page["next_column_offset"] == 40
        assert "column_offset=40" in text(first)
        assert list(page["sample_rows"][0]) == [f"c{j:02d}" for j in range(40)]
        rest = out(
            await c.call_tool("datasets_inspect", {"dataset": str(path), "column_offset": 40})
        )
    assert [col["name"] for col in rest["columns"]] == [f"c{j:02d}" for j in range(40, 60)]
    assert rest["next_column_offset"] is None


def test_large_text_files_get_an_estimated_row_count(
    local_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shrink the "large" threshold so a small file takes the estimating path.
    monkeypatch.setattr(local, "COUNT_EXACT_MAX_BYTES", 10_000)
    monkeypatch.setattr(local, "ESTIMATE_PROBE_BYTES", 20_000)
    rows = [{"id": i, "text": "x" * (i % 10)} for i in range(5000)]
    report = inspect_dataset(local_settings, str(write_jsonl(tmp_path / "big.jsonl", rows)))
    (split,) = report.splits
    assert split.rows_exact is False
    assert split.rows is not None and abs(split.rows - 5000) < 500
    assert any("estimated" in note for note in report.notes)


async def test_local_errors_say_what_to_pass(local_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    async with datasets_client(local_settings) as c:
        with pytest.raises(ToolError, match=r"No such file or folder.*Hub id"):
            await c.call_tool("datasets_inspect", {"dataset": str(tmp_path / "missing.parquet")})
        with pytest.raises(ToolError, match=r"not a data file this tool reads \(parquet, csv"):
            await c.call_tool("datasets_inspect", {"dataset": str(tmp_path / "notes.txt")})
        with pytest.raises(ToolError, match="No data files"):
            await c.call_tool("datasets_inspect", {"dataset": str(tmp_path)})
        broken = tmp_path / "broken.parquet"
        broken.write_bytes(b"PAR1 this is not parquet")
        with pytest.raises(ToolError, match="DuckDB cannot read this dataset"):
            await c.call_tool("datasets_inspect", {"dataset": str(broken)})
        garbage = tmp_path / "garbage.arrow"
        garbage.write_bytes(b"not arrow at all" * 10)
        with pytest.raises(ToolError, match="DuckDB cannot read this dataset"):
            await c.call_tool("datasets_inspect", {"dataset": str(garbage)})
