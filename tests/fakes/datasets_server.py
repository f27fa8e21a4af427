"""A fake Hugging Face dataset viewer (datasets-server) on 127.0.0.1, next to a FakeHub.

Responses follow https://huggingface.co/docs/dataset-viewer (is-valid, splits, info, size,
first-rows, statistics, parquet): ``{"error": ...}`` bodies with X-Error-Code on failures,
401 for gated or private datasets without a token, 404 for unknown ones. A dataset is given as
rows per config and split; the fake writes each split as a real parquet file (with DuckDB) into
the FakeHub repository's ``refs/convert/parquet`` branch, stored as LFS so that downloading it
goes through the Hub's redirect to its "CDN", as on huggingface.co.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fakes.hub import FakeHub, Reject
from fakes.loopback import Faults, Recorder, serve

PARQUET_REF = "refs/convert/parquet"


@dataclass
class FakeDataset:
    dataset: str
    configs: dict[str, dict[str, list[dict[str, Any]]]]
    gated: bool = False
    preview: bool = True
    statistics: bool = True
    license: str | None = None
    description: str = ""
    parquet_sizes: dict[tuple[str, str], int] = field(default_factory=dict)


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "rows.jsonl", Path(tmp) / "rows.parquet"
        source.write_text("".join(json.dumps(row) + "\n" for row in rows))
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT * FROM read_json_auto('{source}')) TO '{target}' (FORMAT parquet)"
        )
        con.close()
        return target.read_bytes()


def feature(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"dtype": "bool", "_type": "Value"}
    if isinstance(value, int):
        return {"dtype": "int64", "_type": "Value"}
    if isinstance(value, float):
        return {"dtype": "float64", "_type": "Value"}
    if isinstance(value, list):
        inner = value[0] if value else ""
        sub = (
            {k: feature(v) for k, v in inner.items()} if isinstance(inner, dict) else feature(inner)
        )
        return {"feature": sub, "_type": "List"}
    return {"dtype": "string", "_type": "Value"}


def column_statistics(values: list[Any]) -> tuple[str, dict[str, Any]]:
    present = [v for v in values if v is not None]
    base = {
        "nan_count": len(values) - len(present),
        "nan_proportion": (len(values) - len(present)) / len(values),
    }
    if present and all(isinstance(v, bool) for v in present):
        return "bool", {**base, "frequencies": {str(v): present.count(v) for v in set(present)}}
    if present and all(isinstance(v, int | float) for v in present):
        kind = "int" if all(isinstance(v, int) for v in present) else "float"
        numbers = [float(v) for v in present]
        return kind, {
            **base,
            "min": min(present),
            "max": max(present),
            "mean": statistics.fmean(numbers),
        }
    if present and all(isinstance(v, str) for v in present) and len(set(present)) <= 10:
        frequencies = {v: present.count(v) for v in sorted(set(present))}
        return "string_label", {**base, "n_unique": len(frequencies), "frequencies": frequencies}
    lengths = [len(v) for v in present]
    kind = "list" if present and isinstance(present[0], list) else "string_text"
    return kind, {
        **base,
        "min": min(lengths),
        "max": max(lengths),
        "mean": statistics.fmean(lengths),
    }


class FakeDatasetsServer:
    def __init__(self, hub: FakeHub):
        self.hub = hub
        self.datasets: dict[str, FakeDataset] = {}
        self.url = ""
        routes = [
            Route(f"/{name}", getattr(self, "_" + name.replace("-", "_")))
            for name in (
                "is-valid",
                "splits",
                "info",
                "size",
                "first-rows",
                "statistics",
                "parquet",
            )
        ]
        app = Starlette(routes=routes, exception_handlers={Reject: lambda _, exc: exc.response})  # type: ignore[arg-type]
        self.faults = Faults(app)  # failures and stalls injected by tests
        self.recorder = Recorder(self.faults)

    def add_dataset(
        self, dataset: str, configs: dict[str, dict[str, list[dict[str, Any]]]], **options: Any
    ) -> FakeDataset:
        entry = FakeDataset(dataset, configs, **options)
        files = {}
        for config, splits in configs.items():
            for split, rows in splits.items():
                data = parquet_bytes(rows)
                files[f"{config}/{split}/0000.parquet"] = data
                entry.parquet_sizes[(config, split)] = len(data)
        repo = self.hub.add_repo(
            dataset, "dataset", {"README.md": f"# {dataset}"}, lfs=tuple(files), gated=entry.gated
        )
        repo.refs[PARQUET_REF] = files
        self.datasets[dataset] = entry
        return entry

    def fail(self, prefix: str, status: int, *, times: int = 1, **headers: str) -> None:
        self.faults.fail(prefix, status, times=times, headers=headers)

    def stall(self, prefix: str, seconds: float, *, times: int = 1) -> None:
        self.faults.stall(prefix, seconds, times=times)

    @contextlib.contextmanager
    def running(self) -> Iterator[FakeDatasetsServer]:
        with serve(self.recorder) as url:
            self.url = url
            yield self

    # --- helpers -------------------------------------------------------------------------
    def _dataset(self, request: Request) -> FakeDataset:
        name = request.query_params.get("dataset", "")
        entry = self.datasets.get(name)
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        message = (
            "The dataset does not exist, or is not accessible without authentication (private or "
            "gated). Please check the spelling of the dataset name or retry with authentication."
        )
        if entry is None:
            raise Reject(404, "DatasetNotFoundError", message)
        if entry.gated and token not in self.hub.tokens:
            raise Reject(401, "ExternalUnauthenticatedError", message)
        return entry

    @staticmethod
    def _rows(entry: FakeDataset, request: Request) -> tuple[str, str, list[dict[str, Any]]]:
        config, split = (
            request.query_params.get("config", ""),
            request.query_params.get("split", ""),
        )
        rows = entry.configs.get(config, {}).get(split)
        if rows is None:
            raise Reject(404, "ResponseNotFound", "Not found.")
        return config, split, rows

    # --- endpoints -----------------------------------------------------------------------
    async def _is_valid(self, request: Request) -> Response:
        entry = self._dataset(request)
        flags = {"preview": entry.preview, "viewer": entry.preview, "search": entry.preview}
        return JSONResponse({**flags, "filter": entry.preview, "statistics": entry.statistics})

    async def _splits(self, request: Request) -> Response:
        entry = self._dataset(request)
        splits = [
            {"dataset": entry.dataset, "config": config, "split": split}
            for config, by_split in entry.configs.items()
            for split in by_split
        ]
        return JSONResponse({"splits": splits, "pending": [], "failed": []})

    async def _info(self, request: Request) -> Response:
        entry = self._dataset(request)
        config = request.query_params.get("config", "")
        splits = entry.configs.get(config)
        if splits is None:
            raise Reject(404, "ResponseNotFound", "Not found.")
        first = next(iter(splits.values()))[0]
        info = {
            "description": entry.description,
            "license": entry.license or "",
            "features": {k: feature(v) for k, v in first.items()},
            "config_name": config,
            "splits": {s: {"name": s, "num_examples": len(r)} for s, r in splits.items()},
        }
        return JSONResponse({"dataset_info": info, "partial": False})

    async def _size(self, request: Request) -> Response:
        entry = self._dataset(request)
        splits = [
            {
                "dataset": entry.dataset,
                "config": config,
                "split": split,
                "num_bytes_parquet_files": entry.parquet_sizes[(config, split)],
                "num_rows": len(rows),
                "num_columns": len(rows[0]),
            }
            for config, by_split in entry.configs.items()
            for split, rows in by_split.items()
        ]
        total = {"dataset": entry.dataset, "num_rows": sum(s["num_rows"] for s in splits)}
        size = {"dataset": total, "configs": [], "splits": splits}
        return JSONResponse({"size": size, "pending": [], "failed": [], "partial": False})

    async def _first_rows(self, request: Request) -> Response:
        entry = self._dataset(request)
        config, split, rows = self._rows(entry, request)
        features = [
            {"feature_idx": i, "name": k, "type": feature(v)}
            for i, (k, v) in enumerate(rows[0].items())
        ]
        shown = [
            {"row_idx": i, "row": row, "truncated_cells": []} for i, row in enumerate(rows[:100])
        ]
        body = {"dataset": entry.dataset, "config": config, "split": split, "features": features}
        return JSONResponse({**body, "rows": shown, "truncated": False})

    async def _statistics(self, request: Request) -> Response:
        entry = self._dataset(request)
        _, _, rows = self._rows(entry, request)
        if not entry.statistics:
            raise Reject(501, "NoStatisticsError", "Statistics are not available for this split.")
        columns = []
        for name in rows[0]:
            kind, values = column_statistics([row.get(name) for row in rows])
            columns.append({"column_name": name, "column_type": kind, "column_statistics": values})
        return JSONResponse({"num_examples": len(rows), "statistics": columns, "partial": False})

    async def _parquet(self, request: Request) -> Response:
        entry = self._dataset(request)
        files = [
            {
                "dataset": entry.dataset,
                "config": config,
                "split": split,
                "url": f"{self.hub.url}/datasets/{entry.dataset}/resolve/refs%2Fconvert%2Fparquet/{config}/{split}/0000.parquet",
                "filename": "0000.parquet",
                "size": size,
            }
            for (config, split), size in entry.parquet_sizes.items()
        ]
        return JSONResponse({"parquet_files": files, "pending": [], "failed": [], "partial": False})
