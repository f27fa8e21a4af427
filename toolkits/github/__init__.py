"""GitHub toolkit: code search, example finding, repository listing and file reading."""

from toolkits.github.mcp import build

__all__ = ["build"]
