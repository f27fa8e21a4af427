"""Hugging Face Hub toolkit: search, read and write repositories (hub_*)."""

from toolkits.hub.mcp import build

__all__ = ["build"]
