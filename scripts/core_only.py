"""The toolkits' cores without their MCP layers (fastmcp), for the scripts that also run on a
machine holding only PyTorch and the wheels carried there (a GPU machine: CONTRIBUTING.md)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def skip_mcp_layers(names: tuple[str, ...] = ("jobs", "experiments")) -> None:
    """Register ``toolkits.<name>`` as bare packages, so that importing one of their modules does
    not run their ``__init__`` (which builds the MCP sub-server)."""
    for name in names:
        package = types.ModuleType(f"toolkits.{name}")
        package.__path__ = [str(REPO / "toolkits" / name)]
        sys.modules[f"toolkits.{name}"] = package
