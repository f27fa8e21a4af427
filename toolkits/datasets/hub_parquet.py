"""A Hub dataset split as local parquet files, in a disk cache with a byte budget.

DuckDB cannot read over HTTP here (its httpfs extension would have to be downloaded), so the
split's parquet files, as listed by the dataset viewer's /parquet endpoint, are downloaded once
into ``<MLINTERN_HOME>/datasets-cache`` and queried locally. The cache never grows past
``settings.datasets_cache_max_bytes``: least recently used files are evicted first, and a split
bigger than the whole budget is refused before anything is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from server.errors import UserError
from server.retry import MAX_ATTEMPTS, retry_wait_s
from server.settings import Settings
from toolkits.datasets.viewer import Viewer, ViewerError, choose

Progress = Callable[[float, float, str], None]
CHUNK = 1024 * 1024


def cache_root(settings: Settings) -> Path:
    return settings.home / "datasets-cache"


def split_parquet(
    settings: Settings,
    dataset: str,
    config: str | None,
    split: str | None,
    progress: Progress | None = None,
) -> tuple[str, str, list[Path]]:
    """(config, split, local parquet paths) for one split of a Hub dataset."""
    with Viewer(settings) as viewer:
        listing = viewer.get("parquet", dataset)
        files = listing.get("parquet_files") or []
        if not files:
            raise ViewerError(
                f"The dataset viewer has no parquet export of {dataset} (yet). Inspect it with "
                f"datasets_inspect, or list its files with hub_repo(op='list')."
            )
        config, split, _ = choose(files, config, split, dataset)
        chosen = [f for f in files if f["config"] == config and f["split"] == split]
        folder = (
            cache_root(settings)
            / quote(dataset, safe="")
            / quote(config, safe="")
            / quote(split, safe="")
        )
        paths = [
            folder / quote(str(f.get("filename") or Path(f["url"]).name), safe="") for f in chosen
        ]
        _make_room(settings, dataset, chosen, paths)
        for index, (entry, path) in enumerate(zip(chosen, paths, strict=True)):
            if progress:
                progress(index, len(chosen), f"fetching {path.name} ({index + 1}/{len(chosen)})")
            if _is_cached(path, entry.get("size")):
                path.touch()  # recently used: evicted last
                continue
            _download(viewer.client, entry["url"], path, entry.get("size"), dataset)
        if progress:
            progress(len(chosen), len(chosen), "parquet files ready")
    return config, split, paths


def _is_cached(path: Path, size: Any) -> bool:
    return path.is_file() and (size is None or path.stat().st_size == size)


def _make_room(
    settings: Settings, dataset: str, entries: list[dict[str, Any]], paths: list[Path]
) -> None:
    budget = settings.datasets_cache_max_bytes
    needed = sum(int(e.get("size") or 0) for e in entries)
    if needed > budget:
        raise UserError(
            f"This split of {dataset} is {needed / 2**30:.2f} GB of parquet, more than the "
            f"datasets cache budget ({budget / 2**30:.2f} GB, MLINTERN_DATASETS_CACHE_MAX_BYTES). "
            f"Query a smaller split or config, raise the budget, or download it and query the "
            f"local files."
        )
    keep = {p.resolve() for p in paths}
    cached = [p for p in cache_root(settings).rglob("*") if p.is_file()]
    used = sum(p.stat().st_size for p in cached if p.resolve() not in keep)
    for old in sorted(
        (p for p in cached if p.resolve() not in keep), key=lambda p: p.stat().st_mtime
    ):
        if used + needed <= budget:
            break
        used -= old.stat().st_size
        old.unlink(missing_ok=True)


def _download(client: Any, url: str, target: Path, size: Any, dataset: str) -> None:
    import httpx

    target.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".part-", delete=False)
        try:
            with handle, client.stream("GET", url) as response:
                status = response.status_code
                wait = retry_wait_s(status, response.headers, attempt)
                if wait is not None:
                    time.sleep(wait)
                    continue
                if status != 200:
                    raise _download_error(status, dataset, target.name)
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
            written = Path(handle.name).stat().st_size
            if size is not None and written != size:
                raise UserError(
                    f"Download of {target.name} from {dataset} stopped at {written} of {size} "
                    f"bytes. Retry the query."
                )
            os.replace(handle.name, target)  # atomic: a reader never sees half a file
            return
        except httpx.TimeoutException:
            raise UserError(
                f"Downloading {target.name} of {dataset} stalled (no data within the HTTP time "
                f"limit). Retry, or raise MLINTERN_HTTP_TIMEOUT_S."
            ) from None
        except httpx.TransportError as exc:
            raise UserError(
                f"Cannot download {target.name} of {dataset} ({type(exc).__name__}). Check the "
                f"network connection."
            ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(handle.name)
    raise _download_error(429, dataset, target.name)


def _download_error(status: int, dataset: str, name: str) -> UserError:
    if status in (401, 403):
        return UserError(
            f"Access to the parquet files of {dataset} was refused ({status}): it is private or "
            f"gated; export HF_TOKEN with access, after accepting its conditions on the Hub."
        )
    if status == 404:
        return UserError(
            f"{name} of {dataset} is gone from the Hub (the parquet export changed). Retry: the "
            f"listing will be refreshed."
        )
    if status == 429:
        return UserError("The Hub is rate-limiting parquet downloads (429). Retry in a minute.")
    return UserError(
        f"The Hub failed with {status} while sending {name} of {dataset}. Retry later."
    )
