"""The self-contained HTML of each MCP Apps view: style and scripts inlined, nothing fetched.

Hosts run these in a sandboxed iframe whose default CSP allows inline script and style but no
network; so everything the view needs is in this one document.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Literal

ViewKind = Literal["experiment", "job", "approval"]
VIEW_KINDS: tuple[ViewKind, ...] = ("experiment", "job", "approval")
SHARED_SCRIPTS = ("chart.js", "views.js")


def asset(name: str) -> str:
    return files("server.views").joinpath("assets", name).read_text(encoding="utf-8")


@functools.cache
def app_html(kind: ViewKind) -> str:
    scripts = "\n".join(asset(name) for name in (*SHARED_SCRIPTS, "bridge.js"))
    return (
        asset("app.html")
        .replace("/*STYLE*/", asset("style.css"))
        .replace("/*VIEW*/", kind)
        .replace("/*SCRIPTS*/", scripts)
    )
