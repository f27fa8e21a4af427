"""Papers toolkit: search, trending, details with sections and linked repos, citations."""

from toolkits.papers.mcp import build

__all__ = ["build"]
