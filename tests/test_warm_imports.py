"""A long-lived server's warm-up thread also imports the heavy modules a toolkit names in
WARM_IMPORTS (numpy, pyarrow for experiments), so the first read of a long run does not wait
on them; a name that cannot be imported is skipped without stopping the rest."""

from __future__ import annotations

from pathlib import Path

from helpers import python_probe

PROBE = """
import json, sys
import toolkits.experiments
from server.app import build_server
from server.lazy_toolkit import warm_in_background
from server.settings import Settings

toolkits.experiments.WARM_IMPORTS = ("no_such_module_mlintern", *toolkits.experiments.WARM_IMPORTS)
server = build_server(Settings(toolsets=["jobs", "experiments"]))
before = [m for m in ("numpy", "pyarrow.json") if m in sys.modules]
warm_in_background(server).join(timeout=120)
after = [m for m in ("numpy", "pyarrow.json", "pyarrow.csv") if m in sys.modules]
print(json.dumps({"before": before, "after": after}))
"""


def test_warm_up_imports_what_the_experiments_toolkit_names(tmp_path: Path) -> None:
    seen = python_probe(PROBE, tmp_path / "home")
    assert seen == {"before": [], "after": ["numpy", "pyarrow.json", "pyarrow.csv"]}
