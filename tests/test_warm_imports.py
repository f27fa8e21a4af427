"""A long-lived server's warm-up thread also imports the heavy modules a toolkit names in
WARM_IMPORTS (numpy, pyarrow for experiments), so the first read of a long run does not wait
on them; a name that cannot be imported is skipped without stopping the rest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import test_env

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
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=180,
        env=test_env(tmp_path / "home"),
        check=True,
    )
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"before": [], "after": ["numpy", "pyarrow.json", "pyarrow.csv"]}
