"""Jupyter notebooks as markdown a model can read: cells in order, outputs left out.

Outputs (images as base64, long tables, tracebacks) are most of a notebook's bytes and little of
its meaning; the code and prose cells are what an example teaches.
"""

from __future__ import annotations

import json
import re
from typing import Any


def notebook_to_markdown(raw: str) -> str | None:
    """Markdown of the notebook's cells, or None when ``raw`` is not a notebook."""
    try:
        notebook = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(notebook, dict):
        return None
    cells = notebook.get("cells")
    if cells is None:  # nbformat 3 keeps its cells inside worksheets
        worksheets = notebook.get("worksheets") or []
        cells = [cell for sheet in worksheets for cell in sheet.get("cells") or []]
    if not isinstance(cells, list):
        return None
    language = _language(notebook.get("metadata") or {})
    blocks: list[str] = []
    outputs = 0
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        outputs += len(cell.get("outputs") or [])
        block = _cell_markdown(cell, language)
        if block:
            blocks.append(block)
    note = f"<!-- notebook: {len(cells)} cells; {outputs} outputs omitted -->"
    return "\n\n".join([note, *blocks]) + "\n"


def _language(metadata: dict[str, Any]) -> str:
    kernel = metadata.get("kernelspec") or {}
    info = metadata.get("language_info") or {}
    return str(kernel.get("language") or info.get("name") or "python")


def _cell_markdown(cell: dict[str, Any], language: str) -> str:
    kind = cell.get("cell_type")
    source = _joined(cell.get("source", cell.get("input", ""))).rstrip()
    if not source.strip():
        return ""
    if kind == "markdown":
        return source
    if kind == "heading":  # nbformat 3
        return "#" * int(cell.get("level") or 1) + " " + source
    fence = _fence_for(source)
    info = language if kind == "code" else ""
    return f"{fence}{info}\n{source}\n{fence}"


def _joined(source: Any) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source or "")


def _fence_for(source: str) -> str:
    # A fence longer than any backtick run inside the code, so the block cannot end early.
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    return "`" * max(3, longest + 1)
