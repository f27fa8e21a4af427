"""TensorBoard event files read directly: TFRecord framing, CRC checks, scalar summaries.

A TFRecord is ``uint64 length | uint32 masked_crc(length) | data | uint32 masked_crc(data)``,
and each ``data`` is an ``Event`` protobuf. Reading the framing ourselves lets a re-read of a
growing file start where the last one stopped, and lets the CRCs be checked in bulk with numpy
instead of byte by byte in Python (which is where EventAccumulator spends its time).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from server.roots import open_regular
from toolkits.experiments.sources.incremental import FileCursor, updated

HEADER_BYTES = 12  # length + its CRC
FOOTER_BYTES = 4  # CRC of the data
# Records longer than this (images, histograms, graphs) hold no scalar worth a bulk CRC pass;
# a corrupt one still fails protobuf decoding and is counted.
MAX_CHECKED_RECORD = 4096
# A length this large can only come from a corrupt header; stop instead of waiting for it.
MAX_SANE_RECORD = 1 << 30
EVENT_FILE_MARKER = "tfevents"

_length = struct.Struct("<Q")


class EventFileCursor(FileCursor):
    def __init__(self, path: Path, stat: os.stat_result):
        super().__init__(path, stat)
        # TF2 writers put the plugin metadata only on a tag's first event.
        self.scalar_tags: set[str] = set()
        self.other_tags: set[str] = set()
        self.broken = False
        self.corrupt_records = 0

    def saved_state(self) -> dict[str, Any]:
        return super().saved_state() | {
            "scalar_tags": sorted(self.scalar_tags),
            "other_tags": sorted(self.other_tags),
            "broken": self.broken,
            "corrupt_records": self.corrupt_records,
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        super().restore_state(state)
        self.scalar_tags = {str(t) for t in state["scalar_tags"]}
        self.other_tags = {str(t) for t in state["other_tags"]}
        self.broken, self.corrupt_records = bool(state["broken"]), int(state["corrupt_records"])


def is_event_file(path: Path) -> bool:
    return EVENT_FILE_MARKER in path.name and path.is_file()


def read_event_file(path: Path) -> EventFileCursor:
    """Bring the cursor of ``path`` up to date and return it (its buffers hold every scalar)."""
    return updated(path, "tfevents", EventFileCursor, _read_unless_broken)


def _read_unless_broken(cursor: EventFileCursor) -> None:
    if not cursor.broken:
        _read_new_records(cursor)


def _read_new_records(cursor: EventFileCursor) -> int:
    with os.fdopen(open_regular(cursor.path), "rb") as handle:
        handle.seek(cursor.offset)
        data = handle.read()
    if not data:
        return 0
    starts, lengths, consumed = _frame(data, cursor)
    if starts:
        _parse(data, _verify(data, starts, lengths, cursor), cursor)
    cursor.offset += consumed
    return consumed


def _frame(data: bytes, cursor: EventFileCursor) -> tuple[list[int], list[int], int]:
    """Start and length of every complete record; a partial last record is left for later."""
    starts: list[int] = []
    lengths: list[int] = []
    unpack = _length.unpack_from
    size = len(data)
    position = 0
    while position + HEADER_BYTES <= size:
        (length,) = unpack(data, position)
        end = position + HEADER_BYTES + length + FOOTER_BYTES
        if end > size or length > MAX_SANE_RECORD:
            if length > MAX_SANE_RECORD or not _header_ok(data, position):
                cursor.broken = True
                cursor.problems.append(
                    f"{cursor.path.name}: corrupt record header at byte "
                    f"{cursor.offset + position}; the rest of this file is skipped"
                )
            break
        starts.append(position)
        lengths.append(length)
        position = end
    return starts, lengths, position


def _header_ok(data: bytes, position: int) -> bool:
    from toolkits.experiments.sources.crc32c import masked_crc32c

    expected = struct.unpack_from("<I", data, position + 8)[0]
    return masked_crc32c(data[position : position + 8]) == expected


def _verify(
    data: bytes, starts: list[int], lengths: list[int], cursor: EventFileCursor
) -> list[tuple[int, int]]:
    """(begin, end) of the payload of every record whose header and data CRCs match."""
    import numpy as np

    from toolkits.experiments.sources.crc32c import masked_crc32c_equal_length

    buffer = np.frombuffer(data, dtype=np.uint8)
    start = np.asarray(starts, dtype=np.int64)
    length = np.asarray(lengths, dtype=np.int64)
    header_crc = _u32_at(buffer, start + 8)
    bad_header = np.flatnonzero(masked_crc32c_equal_length(buffer, start, 8) != header_crc)
    count = len(start)
    if len(bad_header):
        # Everything after a bad length is framed on garbage: keep only what came before.
        count = int(bad_header[0])
        cursor.broken = True
        cursor.problems.append(
            f"{cursor.path.name}: corrupt record header at byte "
            f"{cursor.offset + int(start[count])}; the rest of this file is skipped"
        )
    ok = np.ones(count, dtype=bool)
    start, length = start[:count], length[:count]
    data_crc = _u32_at(buffer, start + HEADER_BYTES + length)
    for size in np.unique(length[length <= MAX_CHECKED_RECORD]):
        group = np.flatnonzero(length == size)
        computed = masked_crc32c_equal_length(buffer, start[group] + HEADER_BYTES, int(size))
        ok[group[computed != data_crc[group]]] = False
    bad = count - int(ok.sum())
    if bad:
        cursor.corrupt_records += bad
        cursor.problems.append(f"{cursor.path.name}: {bad} record(s) failed their CRC, skipped")
    begins = start[ok] + HEADER_BYTES
    return list(zip(begins.tolist(), (begins + length[ok]).tolist(), strict=True))


def _u32_at(buffer, positions):
    import numpy as np

    index = positions[:, None] + np.arange(4, dtype=np.int64)[None, :]
    return buffer[index].copy().view("<u4").ravel()


def _parse(data: bytes, spans: list[tuple[int, int]], cursor: EventFileCursor) -> None:
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event  # pyright: ignore[reportAttributeAccessIssue]

    parse = Event.FromString
    view = memoryview(data)
    buffers = cursor.buffers
    scalar_tags = cursor.scalar_tags
    other_tags = cursor.other_tags
    undecodable = 0
    for begin, end in spans:
        try:
            event = parse(view[begin:end])
        except DecodeError:
            undecodable += 1
            continue
        values = event.summary.value
        if not values:
            continue
        step = event.step
        wall_time = event.wall_time
        for value in values:
            tag = value.tag
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                number = value.simple_value
            elif kind == "tensor" and tag not in other_tags:
                number = _tensor_scalar(value, tag, scalar_tags, other_tags)
                if number is None:
                    continue
            else:
                continue
            buffer = buffers.get(tag)
            if buffer is None:
                buffer = cursor.buffer(tag)
            buffer.steps.append(step)
            buffer.values.append(number)
            buffer.wall_times.append(wall_time)
    if undecodable:
        cursor.corrupt_records += undecodable
        cursor.problems.append(f"{cursor.path.name}: {undecodable} record(s) did not decode")


# TensorProto dtypes that can hold a scalar metric, with their packed-bytes layout.
_PACKED = {1: "<f", 2: "<d", 3: "<i", 9: "<q", 19: "<e"}


def _tensor_scalar(value, tag: str, scalar_tags: set[str], other_tags: set[str]) -> float | None:
    """The number in a TF2-style scalar summary, or None if this tag is not a scalar."""
    if tag not in scalar_tags:
        plugin = value.metadata.plugin_data.plugin_name
        if plugin and plugin != "scalars":
            other_tags.add(tag)
            return None
    tensor = value.tensor
    dims = tensor.tensor_shape.dim
    if any(d.size != 1 for d in dims):
        other_tags.add(tag)
        return None
    number: float | None = None
    if tensor.float_val:
        number = tensor.float_val[0]
    elif tensor.double_val:
        number = tensor.double_val[0]
    elif tensor.int64_val:
        number = float(tensor.int64_val[0])
    elif tensor.int_val:
        number = float(tensor.int_val[0])
    elif tensor.tensor_content and tensor.dtype in _PACKED:
        layout = _PACKED[tensor.dtype]
        if len(tensor.tensor_content) == struct.calcsize(layout):
            number = float(struct.unpack(layout, tensor.tensor_content)[0])
    if number is None:
        other_tags.add(tag)
        return None
    scalar_tags.add(tag)
    return number
