"""Start the queued local jobs a finished job made room for, with no server running.

The runner of a job that ended runs ``python -I local_queue.py <home> <max_concurrent>``: one
pass of the same queue logic a server runs (LocalBackend.pump, in one write transaction), then
it exits. It holds no credential, so queued jobs that name secrets stay queued until a server
process looks (their status message says so); jobs without secrets start here.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def main(home: str, max_concurrent: int) -> int:
    from server.settings import Settings
    from server.state import StateStore
    from toolkits.jobs.backends.local import LocalBackend
    from toolkits.jobs.store import JobStore

    settings = Settings(home=Path(home), jobs_max_concurrent=max_concurrent, _env_file=None)  # type: ignore[call-arg]
    backend = LocalBackend(settings, JobStore(StateStore(settings.state_path)))
    backend.headless = True
    backend.pump()
    return 0


if __name__ == "__main__":
    sys.path[0] = str(ROOT)  # this tree's packages, not this folder's modules by bare name
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
