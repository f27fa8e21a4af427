"""Parsed series kept on disk, so a fresh server's first read of a long run is a load, not a parse.

A cursor (what was read from one log file: the byte offset, every tag's columns, the reader's
own state) is saved under ``MLINTERN_HOME/cache/series`` once it holds enough points, and a
new cursor for the same file starts from it. The cache is trusted only for the same file grown
by appending: same device and inode, at least as long as the offset saved, and the same last
bytes before that offset (a file rewritten in place fails that check). It then reads on from the
offset, so a restarted server reads only what the run logged since.

Saving happens on a background thread from the frozen (immutable) columns, and a moment
later (SAVE_DELAY_S), so the read that produced them neither waits on the disk nor shares the
CPU with the save while its answer is still being built and sent. Files are 0600 in 0700
directories, written atomically, opened without following symlinks, loaded without pickle; a
cursor whose tag names or notes look like secrets is not saved at all (secrets never rest under
MLINTERN_HOME).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkits.experiments.sources.incremental import FileCursor

log = logging.getLogger(__name__)

FOLDER = ("cache", "series")
FORMAT = 1
# A smaller log parses in well under a tenth of a second: not worth a file.
MIN_POINTS = 50_000
# Rewrite the file when this many points were added since it was saved.
RESAVE_POINTS = 50_000
TAIL_BYTES = 4096
MAX_TAGS = 2000  # beyond this a file of many tiny series is cheaper to parse again
# The whole cache on disk (a 1M-point tag is 24 MB); least recently used copies go first.
MAX_BYTES = 1 << 30
STALE_TMP_S = 600.0
SAVE_DELAY_S = 0.5

_saving: set[str] = set()
_saving_lock = threading.Lock()


def _folder() -> Path:
    from server.roots import current

    return current().home.joinpath(*FOLDER)


def _name(kind: str, path: Path) -> str:
    return hashlib.sha256(f"{FORMAT}\0{kind}\0{path}".encode()).hexdigest()[:40] + ".npz"


def _tail_digest(fd: int, offset: int) -> str:
    start = max(0, offset - TAIL_BYTES)
    return hashlib.sha256(os.pread(fd, offset - start, start)).hexdigest()


def restore(cursor: FileCursor, kind: str) -> None:
    """Fill a fresh ``cursor`` from its saved copy, if one matches the file as it is now."""
    from server.roots import PathRefused, open_regular

    target = _folder() / _name(kind, cursor.path.resolve())
    try:
        fd = open_regular(target)
    except (OSError, PathRefused):  # no copy, or something that is no plain file
        return
    try:
        meta, series = _load(fd)
    except Exception as exc:  # a damaged copy costs a parse, never a failed read
        log.warning("ignoring the unreadable series cache %s: %s", target, exc)
        return
    finally:
        os.close(fd)
    if not _still_valid(cursor, meta):
        return
    cursor.offset = meta["offset"]
    cursor.restore_state(meta["state"])
    for tag, columns in series.items():
        cursor.buffer(tag).adopt(*columns)
    cursor.saved_points = cursor.points
    with contextlib.suppress(OSError):
        os.utime(target)  # recently used: evicted last


def _load(fd: int) -> tuple[dict[str, Any], dict[str, tuple[Any, Any, Any]]]:
    """The saved metadata and each tag's (steps, values, wall times), checked for shape."""
    import numpy as np

    with os.fdopen(os.dup(fd), "rb") as handle:
        archive = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    if meta.get("format") != FORMAT:
        raise ValueError("an older format")
    series = {}
    for index, tag in enumerate(meta["tags"]):
        columns = (arrays[f"s{index}"], arrays[f"v{index}"], arrays[f"w{index}"])
        if any(c.ndim != 1 or len(c) != len(columns[0]) for c in columns):
            raise ValueError(f"the columns of {tag!r} differ in length")
        series[str(tag)] = columns
    return meta, series


def _still_valid(cursor: FileCursor, meta: dict[str, Any]) -> bool:
    """The same file (device, inode), appended to since (or not at all), same bytes so far."""
    from server.roots import PathRefused, open_regular

    if (meta["device"], meta["inode"]) != (cursor.device, cursor.inode):
        return False
    try:
        fd = open_regular(cursor.path)
    except (OSError, PathRefused):
        return False
    try:
        if os.fstat(fd).st_size < meta["offset"]:
            return False
        return _tail_digest(fd, meta["offset"]) == meta["tail"]
    finally:
        os.close(fd)


def remember(cursor: FileCursor, kind: str) -> None:
    """Save ``cursor`` in the background if it grew enough since its last save.

    Called with ``cursor.lock`` held: what is saved is taken now, written later.
    """
    points = cursor.points
    if points < MIN_POINTS or points - cursor.saved_points < RESAVE_POINTS:
        return
    if len(cursor.buffers) > MAX_TAGS:
        return
    key = _name(kind, cursor.path.resolve())
    with _saving_lock:
        if key in _saving:
            return  # the next read saves what this one added
        _saving.add(key)
    cursor.saved_points = points
    tags = list(cursor.buffers)
    frozen = [cursor.buffers[tag].freeze(tag) for tag in tags]
    meta = {
        "format": FORMAT,
        "source": str(cursor.path),
        "device": cursor.device,
        "inode": cursor.inode,
        "offset": cursor.offset,
        "state": cursor.saved_state(),
        "tags": tags,
    }
    folder = _folder()
    worker = threading.Timer(SAVE_DELAY_S, _save, args=(folder, key, cursor.path, meta, frozen))
    worker.daemon = True
    worker.start()


def _save(folder: Path, key: str, source: Path, meta: dict[str, Any], frozen: list[Any]) -> None:
    import numpy as np

    from server.private import private_dir
    from server.redact import redact
    from server.roots import open_regular, write_in_folder

    try:
        described = json.dumps({k: meta[k] for k in ("source", "state", "tags")})
        if redact(described) != described:
            log.info("not caching the series of %s: its names look like secrets", source)
            return
        fd = open_regular(source)
        try:
            meta["tail"] = _tail_digest(fd, meta["offset"])
        finally:
            os.close(fd)
        arrays: dict[str, Any] = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
        for index, series in enumerate(frozen):
            arrays |= {f"s{index}": series.steps, f"v{index}": series.values}
            arrays[f"w{index}"] = series.wall_times
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_in_folder(private_dir(folder), key, buffer.getvalue(), shown=key)
        _evict(folder)
    except Exception:  # a cache that cannot be written only costs the next server a parse
        log.warning("could not save the series cache for %s", source, exc_info=True)
    finally:
        with _saving_lock:
            _saving.discard(key)


def _evict(folder: Path) -> None:
    """Keep the folder under MAX_BYTES, dropping the least recently used copies first; and
    drop what a save interrupted by a crash left behind."""
    import time

    entries = []
    for entry in os.scandir(folder):
        if not entry.is_file(follow_symlinks=False):
            continue
        info = entry.stat(follow_symlinks=False)
        if entry.name.endswith(".tmp") and time.time() - info.st_mtime > STALE_TMP_S:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
        elif entry.name.endswith(".npz"):
            entries.append((info.st_mtime, info.st_size, entry.path))
    total = sum(size for _mtime, size, _path in entries)
    for _mtime, size, path in sorted(entries):
        if total <= MAX_BYTES:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
            total -= size


def wait_for_saves(timeout_s: float = 30.0) -> bool:
    """Block until no save is in flight (tests and benchmarks; the server never waits)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with _saving_lock:
            if not _saving:
                return True
        time.sleep(0.02)
    return False
