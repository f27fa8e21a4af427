"""Jobs toolkit: detached training jobs on this machine, Hugging Face Jobs and Ray clusters."""

from toolkits.jobs.mcp import build

# The local backend is imported by a job's first status read; a long-lived server's warm-up
# thread imports it beforehand (server/lazy_toolkit.py).
WARM_IMPORTS = ("toolkits.jobs.backends.local",)

__all__ = ["WARM_IMPORTS", "build"]
