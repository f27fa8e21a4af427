"""Toolkits: one sub-package each, a FastMCP sub-server over plain functions (see server.registry)."""
