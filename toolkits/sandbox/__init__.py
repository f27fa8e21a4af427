"""Sandbox toolkit: isolated code execution, local (bubblewrap) by default, E2B in the cloud."""

from toolkits.sandbox.mcp import build

__all__ = ["build"]
