"""W&B offline runs (``wandb/offline-run-<time>-<id>/run-<id>.wandb``), read on this machine.

The ``.wandb`` file is W&B's record log: a 7-byte header (``:W&B``, magic 0xBEE1, version 0),
then LevelDB-log records in 32 KiB blocks (4-byte CRC32 seeded with the record type, 2-byte
length, 1-byte type: full / first / middle / last), each a ``wandb_internal_pb2.Record``
protobuf. History records hold one step's scalars as JSON values; the run record holds the
config. The protobufs are parsed with the installed ``wandb`` package's own classes (the
``trackers`` extra); a re-read starts after the last complete record.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from server.errors import NotFoundError, UserError
from server.roots import open_regular
from toolkits.experiments.sources.incremental import FileCursor, cursor_for
from toolkits.experiments.sources.run_pick import pick_run

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32768
RECORD_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
MAX_RUNS = 2000
# Read at most this much of a log per call; the next call goes on from there.
MAX_READ_BYTES = 64 * 1024 * 1024
_TYPE_SEED = {kind: zlib.crc32(bytes([kind])) for kind in (FULL, FIRST, MIDDLE, LAST)}


class WandbCursor(FileCursor):
    def __init__(self, path: Path, stat: os.stat_result):
        super().__init__(path, stat)
        self.config: dict[str, Any] = {}
        self.name: str | None = None


def is_run(path: Path) -> bool:
    return path.is_dir() and path.name.startswith(("offline-run-", "run-")) and bool(_log(path))


def _log(run: Path) -> Path | None:
    return next(iter(sorted(run.glob("run-*.wandb"))), None)


def is_log(path: Path) -> bool:
    return path.is_file() and path.suffix == ".wandb"


def runs(root: Path) -> list[Path]:
    """Offline runs under a ``wandb`` directory (or the directory holding it), newest first."""
    base = root / "wandb" if (root / "wandb").is_dir() else root
    if not base.is_dir():
        return []
    found = [p for p in base.iterdir() if p.name.startswith("offline-run-") and is_run(p)]
    return sorted(found, key=lambda p: p.name, reverse=True)[:MAX_RUNS]


def pick(root: Path, wanted: str | None) -> Path:
    """The ``.wandb`` file of a run dir, or of the newest (or named) offline run below root."""
    if is_log(root):
        return root
    if is_run(root):
        return _log(root)  # type: ignore[return-value]
    found = runs(root)
    if not found:
        raise NotFoundError(f"{root} holds no W&B offline runs (wandb/offline-run-*).")
    # offline-run-<time>-<id>: a run is named by its folder or its id.
    run = pick_run(
        found,
        wanted,
        names=lambda run: (run.name, run.name.rsplit("-", 1)[-1]),
        label=lambda run: run.name,
        where=f"W&B run {wanted!r} in {root}",
    )
    return _log(run)  # type: ignore[return-value]


def read(path: Path) -> WandbCursor:
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError as exc:
        raise UserError(
            "Reading W&B offline runs needs the wandb package: pip install 'mlintern[trackers]'."
        ) from exc
    cursor = cursor_for(path, "wandb", WandbCursor)
    with cursor.lock, os.fdopen(open_regular(path), "rb") as handle:
        start = cursor.offset or len(HEADER)
        if cursor.offset == 0 and handle.read(len(HEADER)) != HEADER:
            raise UserError(f"{path} is not a W&B run log (no :W&B header).")
        handle.seek(start)
        data = handle.read(MAX_READ_BYTES)
        if len(data) == MAX_READ_BYTES:
            cursor.problems.append(f"{path}: read {MAX_READ_BYTES} bytes; call again for more")
        for end, payload in _records(data, start):
            record = wandb_internal_pb2.Record()  # pyright: ignore[reportAttributeAccessIssue]
            try:
                record.ParseFromString(payload)
            except Exception:  # a DecodeError: one bad record must not hide the rest
                cursor.problems.append(f"{path}: a record at byte {end} did not parse; skipped")
            else:
                _apply(cursor, record)
            cursor.offset = end
        if not cursor.offset:
            cursor.offset = len(HEADER)
    return cursor


def _records(data: bytes, start: int):
    """(file offset after the record, payload) for each complete, checksummed record."""
    position, pending = 0, b""
    while True:
        left = BLOCK - (start + position) % BLOCK
        if left < RECORD_HEADER:
            position += left  # the tail of a block too short for a header is padding
            continue
        header = data[position : position + RECORD_HEADER]
        if len(header) < RECORD_HEADER:
            return
        checksum, length, kind = struct.unpack("<IHB", header)
        body = data[position + RECORD_HEADER : position + RECORD_HEADER + length]
        if kind not in _TYPE_SEED or len(body) < length:
            return  # zero padding, or a record still being written
        if zlib.crc32(body, _TYPE_SEED[kind]) & 0xFFFFFFFF != checksum:
            return  # torn write: stop here and read it again next time
        position += RECORD_HEADER + length
        if kind == FULL:
            yield start + position, body
        elif kind == FIRST:
            pending = body
        elif kind == MIDDLE:
            pending += body
        else:
            yield start + position, pending + body
            pending = b""


def _apply(cursor: WandbCursor, record: Any) -> None:
    kind = record.WhichOneof("record_type")
    if kind == "history":
        values: dict[str, float] = {}
        for item in record.history.item:
            key = item.key or "/".join(item.nested_key)
            number = _number(item.value_json)
            if number is not None:
                values[key] = number
        step = int(values.pop("_step", record.history.step.num))
        wall = values.pop("_timestamp", math.nan)
        values.pop("_runtime", None)
        for key, number in values.items():
            cursor.buffer(key).append(step, number, wall)
    elif kind == "run":
        cursor.name = record.run.display_name or record.run.run_id
        for item in record.run.config.update:
            key = item.key or "/".join(item.nested_key)
            if key.startswith("_"):
                continue
            try:
                cursor.config[key] = json.loads(item.value_json)
            except ValueError:
                cursor.config[key] = item.value_json


def _number(text: str) -> float | None:
    try:
        value = json.loads(text)  # W&B writes NaN / Infinity as JSON extensions
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
