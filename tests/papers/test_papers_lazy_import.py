"""Mounting the papers and docs toolkits does not import huggingface_hub (start-up time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import test_env

PROBE = """
import json, sys
from server.app import build_server
from server.settings import Settings
build_server(Settings(toolsets=["papers", "docs"]))
print(json.dumps(sorted(sys.modules)))
"""


def test_build_server_with_papers_and_docs_stays_light(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        env=test_env(tmp_path / "home"),
        check=True,
    )
    loaded = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert {"toolkits.papers.mcp", "toolkits.docs.mcp"} <= loaded  # really mounted
    heavy = sorted(m for m in loaded if m.split(".")[0] == "huggingface_hub")
    assert not heavy, f"imported while building the server: {heavy[:5]}"
