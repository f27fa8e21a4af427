"""The tasks toolkit (delegation): run_ml_task, ml_task to follow and steer a run, and the
research sub-agent."""

from toolkits.tasks.mcp import build

__all__ = ["build"]
