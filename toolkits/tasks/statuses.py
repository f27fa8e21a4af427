"""The states of a delegated run, defined once.

A run ends for one of the agent loop's own reasons (``agent.events.DoneReason``); the store adds
the two states only a run record can have: still ``running``, or ``interrupted`` because the
process driving it died.
"""

from __future__ import annotations

from typing import Literal, get_args

from agent.events import DoneReason

RunStatus = Literal["running", DoneReason, "interrupted"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
# A run in one of these states has (or had) a process driving it; the others have ended.
LIVE_STATUSES = ("running", "awaiting_approval")
