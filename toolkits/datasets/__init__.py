"""Datasets toolkit: inspect and query Hub or local datasets (datasets_inspect, datasets_query)."""

from toolkits.datasets.mcp import build

__all__ = ["build"]
