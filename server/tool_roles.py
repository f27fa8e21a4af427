"""Roles a tool declares in its MCP ``_meta``, so a client finds it by what it does, not its name.

The bundled agent reads them from the tool list it receives (from mlintern or any other MCP
server): the continuation nudge and compaction follow whichever tools declare ``plan.update`` /
``plan.get``, and the spending cap prices the calls of whichever tool declares ``jobs.submit``
from the one declaring ``jobs.hardware`` on the same server, whatever they are called there.
"""

from __future__ import annotations

from typing import Any, Literal

# The key follows MCP's ``_meta`` naming (a reverse-DNS prefix, then a name), like the server card.
ROLE_KEY = "io.github.mlintern/role"
# plan.update: takes ``todos`` (and an optional ``plan_id``) and replaces that plan.
# plan.get: takes an optional ``plan_id``; returns ``{"todos": [{"status", "content"}...]}``.
# jobs.submit: takes ``flavor``, ``timeout`` (seconds or "90m") and ``backend``; may cost money.
# jobs.hardware: takes an optional ``backend``; lists flavors with a price per hour somewhere in
# its result (``{"flavor": ..., "price_per_hour": ...}``, any nesting).
ToolRole = Literal["plan.update", "plan.get", "jobs.submit", "jobs.hardware"]


def role_meta(role: ToolRole) -> dict[str, Any]:
    """The ``_meta`` entry that declares ``role`` on a tool."""
    return {ROLE_KEY: role}


def role_of(meta: dict[str, Any] | None) -> str | None:
    """The role a listed tool declares in its ``_meta`` (None: it declares none)."""
    role = (meta or {}).get(ROLE_KEY)
    return role if isinstance(role, str) else None
