"""Set-up shared by the agent benchmarks run as scripts: the repository and its test fakes on
``sys.path``, litellm's bundled price map (no fetch), and the shipped agent defaults rather than
the user's own config, so figures are reproducible."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def prepare() -> None:
    for folder in (str(REPO / "tests"), str(REPO)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    none = Path(tempfile.gettempdir()) / "mlintern-bench-none.json"
    os.environ["MLINTERN_AGENT_CONFIG"] = str(none)
