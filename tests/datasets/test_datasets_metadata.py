"""Local inspection reads parquet metadata and the first rows, never the whole file.

The proof: a ~50 MB parquet file whose later row groups are overwritten with garbage (its footer
left intact). A full scan fails on that file, yet datasets_inspect answers with the exact row
count and per-column statistics of all rows — which it can only have taken from the footer.
The multi-GB timing lives in benchmarks/datasets.py.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from datasets_world import datasets_client, out

from server.errors import UserError
from server.settings import Settings
from toolkits.datasets.core import run_query

ROWS = 700_000
FIRST_DAMAGED_GROUP = 4


@pytest.fixture(scope="module")
def damaged_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT i AS id, md5(i::VARCHAR) || md5((i * 7)::VARCHAR) AS payload, i % 10 AS "
        f"label FROM range({ROWS}) t(i)) TO '{path}' "
        "(FORMAT parquet, ROW_GROUP_SIZE 50000, COMPRESSION uncompressed)"
    )
    groups = con.execute(
        "SELECT row_group_id, min(coalesce(dictionary_page_offset, data_page_offset)), "
        f"sum(total_compressed_size) FROM parquet_metadata('{path}') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    con.close()
    assert path.stat().st_size > 45_000_000 and len(groups) > FIRST_DAMAGED_GROUP + 2
    with path.open("r+b") as handle:
        for _, start, size in groups[FIRST_DAMAGED_GROUP:]:
            handle.seek(start)
            handle.write(b"\xff" * size)
    return path


async def test_inspect_answers_from_the_footer_of_a_damaged_file(
    damaged_parquet: Path, local_settings: Settings
) -> None:
    async with datasets_client(local_settings) as c:
        result = await c.call_tool(
            "datasets_inspect", {"dataset": str(damaged_parquet), "sample_rows": 3}
        )
    report = out(result)
    size = damaged_parquet.stat().st_size  # noqa: ASYNC240 - a stat on a local temp file
    assert report["splits"] == [
        {
            "name": "train",
            "rows": ROWS,
            "rows_exact": True,
            "bytes": size,
            "files": 1,
        }
    ]
    assert [row["id"] for row in report["sample_rows"]] == [0, 1, 2]
    columns = {c["name"]: c for c in report["columns"]}
    # Min/max over all 700,000 rows, including the unreadable ones: only the footer knows them.
    assert (columns["id"]["min"], columns["id"]["max"]) == (0, ROWS - 1)
    assert columns["id"]["stats_scope"] == "metadata" and columns["id"]["nulls"] == 0
    assert columns["label"]["approx_distinct"] == 10


def test_a_full_scan_of_that_file_does_fail(
    damaged_parquet: Path, local_settings: Settings
) -> None:
    with pytest.raises(UserError, match="The query failed"):
        run_query(local_settings, str(damaged_parquet), "SELECT sum(id) FROM data")
