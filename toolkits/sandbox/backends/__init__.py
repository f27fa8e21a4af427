"""Sandbox backends. Adding one = a module with ``create(settings) -> SandboxBackend`` + a line here.

Modules are imported only when a sandbox of that backend is used, so e2b's SDK is never
loaded by a server that only runs local sandboxes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from server.settings import Settings
    from toolkits.sandbox.backends.base import SandboxBackend

BackendName = Literal["local", "e2b"]

BACKENDS: dict[str, str] = {
    "local": "toolkits.sandbox.backends.local",
    "e2b": "toolkits.sandbox.backends.e2b",
}


def load_backend(name: str, settings: Settings) -> SandboxBackend:
    module = importlib.import_module(BACKENDS[name])
    return module.create(settings)
