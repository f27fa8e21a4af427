"""Jobs toolkit: detached training jobs on this machine, Hugging Face Jobs and Ray clusters."""

from toolkits.jobs.mcp import build

__all__ = ["build"]
