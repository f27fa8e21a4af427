"""Plan toolkit: a persisted todo list for multi-step work."""

from toolkits.plan.mcp import build

__all__ = ["build"]
