"""Datasets toolkit: inspect and query Hub or local datasets (datasets_inspect, with sql for a query)."""

from toolkits.datasets.mcp import build

__all__ = ["build"]
