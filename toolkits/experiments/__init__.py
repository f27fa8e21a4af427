"""Experiments toolkit: read run metrics, judge them against preferences.md, restart, journal."""

from toolkits.experiments.mcp import build

__all__ = ["build"]
