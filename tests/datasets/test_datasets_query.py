"""datasets_inspect with sql over local files: read-only SQL, paging, size bounds, the time limit, and what
the SQL cannot reach."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from datasets_world import datasets_client, out, text
from fastmcp.exceptions import ToolError

from server.errors import UserError
from server.settings import Settings
from toolkits.datasets.core import run_query
from toolkits.datasets.query import validate_sql


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    folder = tmp_path / "reviews"
    folder.mkdir()
    for split, count in (("train", 300), ("test", 40)):
        rows = [{"id": i, "text": f"{split} review {i}", "label": i % 3} for i in range(count)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


async def test_select_with_paging_and_continuation(
    reviews: Path, local_settings: Settings, era: str
) -> None:
    sql = "SELECT id, label FROM data WHERE label = 1 ORDER BY id"
    async with datasets_client(local_settings, era) as c:
        first = await c.call_tool(
            "datasets_inspect", {"dataset": str(reviews), "sql": sql, "limit": 40}
        )
        page = out(first)
        assert page["columns"] == ["id", "label"] and page["types"] == ["BIGINT", "BIGINT"]
        assert [row[0] for row in page["rows"]] == list(range(1, 120, 3))
        assert page["truncated"] and page["next_offset"] == 40
        assert "offset=40" in text(first)
        rest = out(
            await c.call_tool(
                "datasets_inspect",
                {"dataset": str(reviews), "sql": sql, "limit": 100, "offset": 40},
            )
        )
    assert [row[0] for row in rest["rows"]] == list(range(121, 300, 3))
    assert rest["truncated"] is False and rest["next_offset"] is None


def test_splits_are_views_and_with_queries_work(reviews: Path, local_settings: Settings) -> None:
    result = run_query(
        local_settings,
        str(reviews),
        "WITH counts AS (SELECT 'train' AS split, count(*) AS n FROM train "
        "UNION ALL SELECT 'test', count(*) FROM test) SELECT * FROM counts ORDER BY n DESC;",
    )
    assert result.rows == [["train", 300], ["test", 40]]
    assert result.tables == ["data", "train", "test"]
    chosen = run_query(local_settings, str(reviews), "SELECT count(*) FROM data", split="test")
    assert chosen.rows == [[40]]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO data VALUES (1, 'x', 0)",
        "COPY (SELECT 1) TO '/tmp/out.csv'",
        "ATTACH '/tmp/other.db'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "PRAGMA version",
        "CREATE TABLE t AS SELECT 1",
        "SELECT 1; DROP VIEW data",
    ],
)
def test_anything_but_one_select_is_refused_before_running(sql: str) -> None:
    with pytest.raises(UserError, match=r"(Only read-only queries|exactly one SQL statement)"):
        validate_sql(sql)


async def test_the_sql_cannot_read_other_files(
    reviews: Path, local_settings: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nhf_should_not_leak\n")
    async with datasets_client(local_settings) as c:
        for sql in (
            f"SELECT * FROM read_csv('{secret}')",
            f"SELECT * FROM '{secret}'",
            "SELECT * FROM glob('/etc/*')",
        ):
            with pytest.raises(ToolError, match="Only this dataset can be read") as refused:
                await c.call_tool("datasets_inspect", {"dataset": str(reviews), "sql": sql})
            assert "hf_should_not_leak" not in str(refused.value)


async def test_bad_sql_explains_tables_and_columns(reviews: Path, local_settings: Settings) -> None:
    async with datasets_client(local_settings) as c:
        with pytest.raises(ToolError) as failed:
            await c.call_tool(
                "datasets_inspect", {"dataset": str(reviews), "sql": "SELECT lable FROM data"}
            )
        with pytest.raises(ToolError, match="does not parse"):
            await c.call_tool("datasets_inspect", {"dataset": str(reviews), "sql": "SELEC 1"})
    message = str(failed.value)
    assert "lable" in message and "Tables: data, train, test" in message
    assert "Columns of data: id BIGINT, text VARCHAR, label BIGINT" in message


def test_slow_queries_stop_at_the_time_limit(reviews: Path, tmp_path: Path) -> None:
    from datasets_world import offline_settings

    settings = offline_settings(tmp_path / "home", datasets_query_timeout_s=0.5)
    slow = (
        "SELECT count(*) FROM range(100000000) a, range(1000) b WHERE (a.range * b.range) % 7 = 3"
    )
    started = time.monotonic()
    with pytest.raises(
        UserError, match=r"stopped at the 0.5s time limit.*MLINTERN_DATASETS_QUERY_TIMEOUT_S"
    ):
        run_query(settings, str(reviews), slow)
    assert time.monotonic() - started < 5
    # The same dataset answers the next query normally.
    assert run_query(settings, str(reviews), "SELECT count(*) FROM data").rows == [[300]]


def test_results_stay_small_whatever_the_cells_hold(
    local_settings: Settings, tmp_path: Path
) -> None:
    rows = [{"id": i, "essay": "word " * 5000} for i in range(1000)]
    path = tmp_path / "essays.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_query(local_settings, str(path), "SELECT * FROM data", limit=1000)
    assert len(result.rows[0][1]) <= 300  # each cell is clipped ...
    assert len(json.dumps(result.rows)) <= 110_000  # ... and rows stop at the size budget
    assert result.truncated and result.next_offset == len(result.rows) < 1000
    assert any("cut at" in note for note in result.notes)
