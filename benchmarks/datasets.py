"""Local dataset inspection cost on a multi-GB parquet file: metadata versus a full scan.

Writes a parquet file of about --gb gigabytes (random text, uncompressed, so the size is real),
then times, over --runs runs each, datasets_inspect's local path (schema, row count, sample
rows, per-column statistics, chat-format check) against one full scan of the same file
(count(DISTINCT) over a text column). Prints the medians and their ratio. Goal: the inspection
stays well under a second, whatever the file size.

    python benchmarks/datasets.py [--gb 2] [--runs 5] [--dir /tmp] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROW_BYTES = 230  # about what one generated row weighs in the file


def write_parquet(path: Path, gigabytes: float) -> int:
    import duckdb

    rows = int(gigabytes * 1e9 / ROW_BYTES)
    duckdb.connect().execute(
        f"""COPY (
            SELECT i AS id,
                   md5(i::VARCHAR) || md5((i * 3)::VARCHAR) || md5((i * 7)::VARCHAR)
                     || md5((i * 11)::VARCHAR) || md5((i * 13)::VARCHAR) || md5((i * 17)::VARCHAR)
                     AS text,
                   i % 5 AS label,
                   [{{'role': 'user', 'content': 'q'}}, {{'role': 'assistant', 'content': 'a'}}]
                     AS messages
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE 122880)"""
    )
    return rows


def median_seconds(action, runs: int) -> float:  # type: ignore[no-untyped-def]
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="size of the generated file")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where to write it")
    parser.add_argument("--keep", action="store_true", help="keep the file afterwards")
    args = parser.parse_args()

    import duckdb

    from server.settings import Settings
    from toolkits.datasets.local import inspect_local

    workdir = Path(tempfile.mkdtemp(prefix="mlintern-bench-", dir=args.dir))
    path = workdir / "big.parquet"
    settings = Settings(home=workdir / "home", _env_file=None)  # type: ignore[call-arg]
    try:
        started = time.perf_counter()
        rows = write_parquet(path, args.gb)
        size = path.stat().st_size
        print(f"wrote {size / 1e9:.2f} GB, {rows:,} rows in {time.perf_counter() - started:.1f}s")

        def inspect() -> None:
            report = inspect_local(settings, str(path), sample_rows=5)
            assert report.splits[0].rows == rows, report.splits

        def full_scan() -> None:
            duckdb.connect().execute(f"SELECT count(DISTINCT text) FROM '{path}'").fetchall()

        inspect_s = median_seconds(inspect, args.runs)
        scan_s = median_seconds(full_scan, max(1, min(args.runs, 3)))
        print(f"datasets_inspect (local): median {inspect_s * 1000:.0f} ms over {args.runs} runs")
        print(f"full scan (count distinct): median {scan_s * 1000:.0f} ms")
        print(f"ratio scan/inspect: {scan_s / inspect_s:.1f}x")
        print(f"inspect throughput: {size / 1e9 / inspect_s:.1f} GB/s of file 'covered'")
        return 0 if inspect_s < 1.0 else 1
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
