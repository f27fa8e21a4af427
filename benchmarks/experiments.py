"""Reading a large TensorBoard log: experiments_metrics against TensorBoard's EventAccumulator.

Builds an event file of N scalar points (default 1,000,000, over four tags) in the standard
TFRecord framing, then, in one invocation so both see the same machine load:

1. experiments_metrics' first read (nothing cached) vs EventAccumulator.Reload() of the file;
2. after appending 1,000 more points: experiments_metrics' incremental re-read (only the new
   bytes are read) vs EventAccumulator reloading everything into a fresh accumulator.

Both readers must find the same number of points, or the figures mean nothing. Goals: first
read no slower than EventAccumulator; incremental re-read <= 50 ms.

    python benchmarks/experiments.py [--points 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TAGS = ("train/loss", "train/lr", "val/loss", "val/accuracy")
APPEND = 1_000


def framed(payloads: list[bytes]) -> bytes:
    """TFRecords for ``payloads``, CRCs computed in bulk (the pure-Python writer is too slow)."""
    import numpy as np

    from toolkits.experiments.sources.crc32c import masked_crc32c_equal_length

    lengths = np.array([len(p) for p in payloads], dtype=np.int64)
    blob = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    data_crc = np.empty(len(payloads), dtype=np.uint32)
    for size in np.unique(lengths):
        group = np.flatnonzero(lengths == size)
        data_crc[group] = masked_crc32c_equal_length(blob, starts[group], int(size))
    headers = b"".join(struct.pack("<Q", len(p)) for p in payloads)
    header_crc = masked_crc32c_equal_length(
        np.frombuffer(headers, dtype=np.uint8), np.arange(len(payloads), dtype=np.int64) * 8, 8
    )
    return b"".join(
        headers[8 * i : 8 * i + 8]
        + struct.pack("<I", int(header_crc[i]))
        + payload
        + struct.pack("<I", int(data_crc[i]))
        for i, payload in enumerate(payloads)
    )


def scalar_events(first: int, count: int, with_header: bool) -> bytes:
    import math

    from tensorboard.compat.proto.event_pb2 import Event  # pyright: ignore[reportAttributeAccessIssue]
    from tensorboard.compat.proto.summary_pb2 import Summary  # pyright: ignore[reportAttributeAccessIssue]

    payloads = []
    if with_header:
        payloads.append(Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
    for index in range(first, first + count):
        step, tag = divmod(index, len(TAGS))
        value = 2.0 / (1 + step / 1000) + 0.05 * math.sin(index)
        summary = Summary(value=[Summary.Value(tag=TAGS[tag], simple_value=value)])
        event = Event(wall_time=1.7e9 + index * 0.001, step=step, summary=summary)
        payloads.append(event.SerializeToString())
    return framed(payloads)


def event_accumulator_reload(log_dir: Path) -> tuple[float, int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    started = time.perf_counter()
    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    seconds = time.perf_counter() - started
    points = sum(len(accumulator.Scalars(tag)) for tag in accumulator.Tags()["scalars"])
    return seconds, points


def metrics_read(log_dir: Path) -> tuple[float, int]:
    from server.settings import Settings
    from server.state import StateStore
    from toolkits.experiments import core

    settings = Settings(home=log_dir.parent / "home", _env_file=None)  # type: ignore[call-arg]
    store = StateStore(settings.state_path)
    started = time.perf_counter()
    report = core.metrics(settings, store, str(log_dir))
    seconds = time.perf_counter() - started
    return seconds, sum(tag.points for tag in report.tags)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5, help="incremental re-reads to time")
    args = parser.parse_args()

    from toolkits.experiments.sources.incremental import forget_all

    with tempfile.TemporaryDirectory(prefix="mlintern-bench-") as temp:
        log_dir = Path(temp) / "run"
        log_dir.mkdir()
        event_file = log_dir / "events.out.tfevents.1700000000.bench"
        started = time.perf_counter()
        event_file.write_bytes(scalar_events(0, args.points, with_header=True))
        print(
            f"wrote {args.points:,} points ({event_file.stat().st_size / 1e6:.1f} MB) in "
            f"{time.perf_counter() - started:.1f}s"
        )

        forget_all()
        ours, our_points = metrics_read(log_dir)
        theirs, their_points = event_accumulator_reload(log_dir)
        if our_points != args.points or their_points != args.points:
            raise SystemExit(
                f"point counts differ: ours {our_points}, "
                f"EventAccumulator {their_points}, written {args.points}"
            )
        print(
            f"first read:   experiments_metrics {ours:8.3f}s   EventAccumulator {theirs:8.3f}s"
            f"   ratio {ours / theirs:.3f} (goal <= 1)"
        )

        incremental = []
        total = args.points
        for _ in range(args.rounds):
            with event_file.open("ab") as handle:
                handle.write(scalar_events(total, APPEND, with_header=False))
            total += APPEND
            seconds, points = metrics_read(log_dir)
            if points != total:
                raise SystemExit(f"incremental read found {points} points, expected {total}")
            incremental.append(seconds)
        reload_seconds, reload_points = event_accumulator_reload(log_dir)
        if reload_points != total:
            raise SystemExit(f"EventAccumulator found {reload_points}, expected {total}")
        median = statistics.median(incremental)
        print(
            f"re-read after +{APPEND:,} points: experiments_metrics median {median * 1000:.1f} ms"
            f" (min {min(incremental) * 1000:.1f}, max {max(incremental) * 1000:.1f}, "
            f"{args.rounds} rounds; goal <= 50 ms)   EventAccumulator full reload "
            f"{reload_seconds:.3f}s   ratio {median / reload_seconds:.4f}"
        )


if __name__ == "__main__":
    main()
