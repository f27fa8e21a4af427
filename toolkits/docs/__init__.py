"""Docs toolkit: search Hugging Face documentation and read its pages as markdown."""

from toolkits.docs.mcp import build

__all__ = ["build"]
