"""Which run of a tracker's store a source names: one rule for MLflow, trackio and W&B.

No name means the newest run; a name matches any of a run's names (id, display name); a miss
lists the runs a model can choose from, newest first, so its next call can name one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from server.errors import NotFoundError

Run = TypeVar("Run")
MAX_LISTED = 20


def pick_run(
    runs: Sequence[Run],
    wanted: str | None,
    *,
    names: Callable[[Run], Iterable[str]],
    label: Callable[[Run], str],
    where: str,
) -> Run:
    """The run among ``runs`` (newest first, not empty) that ``wanted`` names, else the newest.

    Raises NotFoundError naming ``where`` (e.g. "MLflow run 'x' in /path") and the runs listed.
    """
    if wanted is None:
        return runs[0]
    for run in runs:
        if wanted in names(run):
            return run
    listed = ", ".join(label(run) for run in runs[:MAX_LISTED])
    raise NotFoundError(f"No {where}. Runs (newest first): {listed}.")
