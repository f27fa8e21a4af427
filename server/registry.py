"""The single list of toolkits. Adding a toolkit = one module under toolkits/ + one line here.

Entries name a module path (imported only when that toolkit is mounted) and say, for the model,
what the toolkit is for; the server's instructions are assembled from these sentences.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToolkitEntry:
    module: str
    purpose: str
    namespace: str | None = None  # None: mounted under its registry name


TOOLKITS: dict[str, ToolkitEntry] = {
    "plan": ToolkitEntry(
        "toolkits.plan", "keep a visible todo plan for multi-step work (plan_update, plan_get)"
    ),
    "github": ToolkitEntry(
        "toolkits.github",
        "find and read example code on GitHub: search code, rank a repository's example files, "
        "list an owner's repositories, read files and notebooks",
    ),
}
