"""Turning dataset cells into short JSON-safe values, and spotting chat-formatted columns."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from server.output_caps import clip_value
from toolkits.datasets.models import ChatFormat

CELL_CHARS = 300
LIST_ITEMS = 20
CHAT_COLUMNS = ("messages", "conversations", "conversation", "chat", "dialog")
ROLE_KEYS = ("role", "from")  # OpenAI-style messages, ShareGPT-style conversations


def cell(value: Any, max_chars: int = CELL_CHARS) -> Any:
    """A JSON-safe, bounded version of one value (strings and lists are cut, bytes summarised)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return clip_value(value, max_chars)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.time | dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        if set(value) >= {"bytes", "path"} and isinstance(value.get("bytes"), bytes | None):
            size = len(value["bytes"] or b"")
            return f"<file {value.get('path') or ''} {size} bytes>".replace("  ", " ")
        return {str(k): cell(v, max_chars) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [cell(v, max_chars) for v in value[:LIST_ITEMS]]
        if len(value) > LIST_ITEMS:
            items.append(f"… {len(value) - LIST_ITEMS} more")
        return items
    return clip_value(str(value), max_chars)


def row_dict(
    columns: Sequence[str], values: Sequence[Any], max_chars: int = CELL_CHARS
) -> dict[str, Any]:
    return {name: cell(value, max_chars) for name, value in zip(columns, values, strict=True)}


def decode_base64_cells(value: Any) -> Any:
    """The viewer sends binary cells as base64 strings; leave them recognisable, not huge."""
    if isinstance(value, str) and len(value) > CELL_CHARS:
        try:
            return f"<{len(base64.b64decode(value, validate=True))} bytes>"
        except ValueError:
            return value
    return value


def chat_column(columns: Iterable[str]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    return next((lowered[name] for name in CHAT_COLUMNS if name in lowered), None)


def detect_chat(column: str, values: Iterable[Any]) -> ChatFormat | None:
    """Roles and turns per row when ``values`` look like lists of {role|from: ..., ...} turns."""
    roles: Counter[str] = Counter()
    turns: list[int] = []
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list | tuple) or not all(isinstance(t, dict) for t in value):
            return None  # not a list of turns: whatever the column is called, it is not chat
        for turn in value:
            key = next((k for k in ROLE_KEYS if k in turn), None)
            if key is None:
                return None
            roles[str(turn[key])] += 1
        turns.append(len(value))
    if not turns:
        return None
    return ChatFormat(
        column=column,
        roles=dict(roles.most_common()),
        turns_min=min(turns),
        turns_max=max(turns),
        turns_mean=sum(turns) / len(turns),
        rows_checked=len(turns),
    )
