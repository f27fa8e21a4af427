"""Choosing tags by name or glob pattern (``val/*``), forgiving about punctuation."""

from __future__ import annotations

import fnmatch

from server.errors import UserError
from toolkits.experiments.verdicts import match_tag


def select_tags(available: list[str], wanted: list[str] | None) -> tuple[list[str], list[str]]:
    """Tags matching ``wanted`` in its order (all of ``available`` if None), and problems."""
    if not wanted:
        return list(available), []
    chosen: list[str] = []
    missing: list[str] = []
    for pattern in wanted:
        if any(ch in pattern for ch in "*?["):
            found = [tag for tag in available if fnmatch.fnmatchcase(tag, pattern)]
        else:
            exact = match_tag(pattern, available)
            found = [exact] if exact else []
        if not found:
            missing.append(pattern)
        chosen += [tag for tag in found if tag not in chosen]
    shown = ", ".join(available[:30]) or "none yet"
    if not chosen:
        raise UserError(f"No tag matches {', '.join(missing)}. Tags in this source: {shown}.")
    problems = [f"no tag matches {pattern!r}" for pattern in missing]
    return chosen, problems
