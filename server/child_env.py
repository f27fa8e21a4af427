"""The environment every child process starts from: a short allow-list, never the server's own.

A denylist by name lets through what it does not recognise (``AZURE_OPENAI_KEY``, ``GH_PAT``,
``MY_DB_PASS``, ``DATABASE_URL=postgres://user:pw@...``), so children (local jobs, extra MCP
servers the agent starts, the agent's own subprocesses) get only what a program needs to run
— where things are, the locale, the terminal, the Python environment, which GPUs to use — plus
whatever the caller's config or request names explicitly. Sandboxes build theirs from scratch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ALLOWED_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "COLORTERM",
        "TMPDIR",
        # The Python environment the user runs (paths, not credentials).
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "PYTHONPATH",
        "PYTHONUNBUFFERED",
        "PYTHONIOENCODING",
        # Where caches and TLS roots live.
        "XDG_CACHE_HOME",
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
    }
)
# Locale, and which accelerators a process may use (and how CUDA finds its libraries).
ALLOWED_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "ROCR_", "HIP_", "OMP_", "MKL_")


def is_allowed(name: str) -> bool:
    return name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES)


def child_environment(
    explicit: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allow-listed part of ``environ`` (default: this process's), then ``explicit``."""
    environ = os.environ if environ is None else environ
    env = {name: value for name, value in environ.items() if is_allowed(name)}
    env.update(explicit or {})
    return env
