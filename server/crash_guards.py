"""Two guards a long-running mlintern process turns on first thing (mlintern-server, -agent).

- ``trace_crashes``: a segfault in C code prints every thread's Python stack to stderr, the log.
- ``collect_garbage_between_steps``: on Python 3.10 and 3.11 a garbage collection that starts
  while ``ContextVar.set`` is building the context's new mapping can run a finaliser that sets a
  context variable too, and the interpreter then reads freed memory (CPython gh-148891, fixed
  only from 3.12 on, where the collector no longer runs there). An asyncio server sets context
  variables on every request and drops coroutines in reference cycles, whose ``finally`` blocks
  reset them: under load, mlintern-server crashed in about one run in two of an agent-driven
  experiment. So on those versions automatic collection is off and a daemon thread collects on a
  timer instead, at a moment when no thread is inside ``ContextVar.set`` (the collector holds
  the interpreter lock, which is never released in the middle of that call).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import threading
import time

PERIOD_S = 0.5  # young objects: what the automatic collector would have done, on a timer
FULL_EVERY = 60  # a full collection every 60 periods (30 s)

_lock = threading.Lock()
_collector: threading.Thread | None = None


def trace_crashes() -> None:
    """Print every thread's Python stack on a crash in C code; a no-op without a real stderr."""
    import faulthandler

    with contextlib.suppress(ValueError, OSError, AttributeError):
        faulthandler.enable()


def collect_garbage_between_steps(period_s: float = PERIOD_S) -> bool:
    """On Python < 3.12, replace automatic garbage collection by a timer thread (see above).

    Returns whether the timer collects (False on 3.12+, where nothing needs doing). Idempotent.
    """
    global _collector
    if sys.version_info >= (3, 12):
        return False
    with _lock:
        if _collector is None or not _collector.is_alive():
            gc.disable()
            _collector = threading.Thread(
                target=_collect_forever, args=(period_s,), name="mlintern-gc", daemon=True
            )
            _collector.start()
    return True


def _collect_forever(period_s: float) -> None:
    rounds = 0
    while True:
        time.sleep(period_s)
        rounds += 1
        try:
            gc.collect(2 if rounds % FULL_EVERY == 0 else 1)
        except Exception:  # a finaliser's error must not end collection for the process
            logging.getLogger(__name__).exception("garbage collection")
