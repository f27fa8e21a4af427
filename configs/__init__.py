"""Shipped defaults (agent config, prompts), read with importlib.resources."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def read_text(name: str) -> str:
    """Text of a packaged config file, e.g. ``read_text("prompts/system.md")``."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def read_json(name: str) -> Any:
    return json.loads(read_text(name))
