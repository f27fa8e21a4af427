"""Building the server imports no heavy library: start-up time is a measured goal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import test_env

HEAVY = (
    "litellm",
    "torch",
    "duckdb",
    "tensorboard",
    "github",
    "e2b",
    "e2b_code_interpreter",
    "ray",
    "matplotlib",
    "trackio",
    "agent.loop",
    "huggingface_hub",
    "pyarrow",
    "numpy",
)

PROBE = """
import json, sys
from server.app import build_server
from server.settings import Settings
server = build_server(Settings())
print(json.dumps(sorted(m for m in sys.modules)))
"""


def test_build_server_imports_no_heavy_module(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        env=test_env(tmp_path / "home"),
        check=True,
    )
    loaded = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    offenders = sorted(
        name for name in loaded if any(name == h or name.startswith(h + ".") for h in HEAVY)
    )
    assert not offenders, f"imported while building the server: {offenders}"
    assert "toolkits.plan" in loaded  # the probe really built the server
