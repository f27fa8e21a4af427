"""Doom-loop detection: the model repeating itself without learning anything new.

A call's signature is its tool name, a hash of its canonical arguments and a hash of its
result. Including the result matters: polling ``jobs_status`` while a job's step counter moves
is progress, not a loop. The guard fires on three or more identical signatures at the end of
the history, or on a cycle of two to five calls repeated back to back at the end, and injects
one corrective message per pattern: it stays quiet while the same pattern continues and arms
again once the model does something else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

IDENTICAL_THRESHOLD = 3
CYCLE_LENGTHS = range(2, 6)
LOOKBACK = 30


@dataclass(frozen=True)
class Signature:
    tool: str
    args_hash: str
    result_hash: str


@dataclass(frozen=True)
class Detection:
    kind: str  # "identical" | "cycle"
    pattern: tuple[Signature, ...]
    repeats: int

    def describe(self) -> str:
        names = " → ".join(s.tool for s in self.pattern)
        if self.kind == "identical":
            return f"{self.pattern[0].tool} called {self.repeats} times in a row with the same arguments and the same result"
        return f"the cycle [{names}] repeated {self.repeats} times with the same results"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def canonical_arguments(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), sort_keys=True, separators=(",", ":"))
    except (json.JSONDecodeError, TypeError):
        return arguments.strip()


def signatures(messages: list[dict[str, Any]], lookback: int = LOOKBACK) -> list[Signature]:
    """Signatures of the last ``lookback`` answered tool calls in ``messages``, oldest first."""
    # Walk backwards and stop early: this runs every turn, and a long session has thousands of
    # messages of which only the tail can form a loop at its end.
    results: dict[str, str] = {}
    found: list[Signature] = []
    for message in reversed(messages):
        if message.get("role") == "tool":
            results[message.get("tool_call_id", "")] = str(message.get("content") or "")
            continue
        if message.get("role") != "assistant":
            continue
        for call in reversed(message.get("tool_calls") or []):
            if call.get("id") not in results:
                continue
            function = call.get("function", {})
            found.append(
                Signature(
                    function.get("name", ""),
                    _digest(canonical_arguments(function.get("arguments") or "")),
                    _digest(results[call.get("id")]),
                )
            )
        if len(found) >= lookback:
            break
    return found[:lookback][::-1]


def detect(sigs: list[Signature]) -> Detection | None:
    """The loop at the end of ``sigs``, if there is one."""
    if len(sigs) >= IDENTICAL_THRESHOLD:
        last = sigs[-1]
        run = 0
        for sig in reversed(sigs):
            if sig != last:
                break
            run += 1
        if run >= IDENTICAL_THRESHOLD:
            return Detection("identical", (last,), run)
    for length in CYCLE_LENGTHS:
        if len(sigs) < 2 * length:
            break
        cycle = sigs[-length:]
        if len(set(cycle)) == 1:
            continue  # that is the identical case, below its threshold
        repeats = 1
        while len(sigs) >= (repeats + 1) * length and (
            sigs[-(repeats + 1) * length : -repeats * length] == cycle
        ):
            repeats += 1
        if repeats >= 2:
            return Detection("cycle", _normalise(tuple(cycle)), repeats)
    return None


def _normalise(cycle: tuple[Signature, ...]) -> tuple[Signature, ...]:
    """The same cycle seen at another phase ([B, A] for [A, B]) is the same pattern."""
    rotations = [cycle[i:] + cycle[:i] for i in range(len(cycle))]
    return min(rotations, key=lambda r: [(s.tool, s.args_hash, s.result_hash) for s in r])


class DoomLoopGuard:
    """Stateful wrapper: one nudge per detected pattern, and a count of rounds it was ignored."""

    def __init__(self) -> None:
        self._last_pattern: tuple[str, tuple[Signature, ...]] | None = None
        self.ignored_rounds = 0  # rounds the last nudged pattern went on after its nudge
        self.last: Detection | None = None

    def check(self, messages: list[dict[str, Any]]) -> Detection | None:
        detection = detect(signatures(messages))
        if detection is None:
            self._last_pattern = None  # the pattern broke: a new loop may be reported again
            self.ignored_rounds = 0
            return None
        key = (detection.kind, detection.pattern)
        self.last = detection
        if key == self._last_pattern:
            self.ignored_rounds += 1
            return None
        self._last_pattern = key
        self.ignored_rounds = 0
        return detection
