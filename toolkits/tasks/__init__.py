"""Delegation toolkit: run_ml_task and its follow-up tools, and the research sub-agent."""

from toolkits.tasks.mcp import build

__all__ = ["build"]
