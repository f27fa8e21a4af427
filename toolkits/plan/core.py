"""The plan: a todo list a model keeps visible while it works. Plain functions, no MCP."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, Field

from server.errors import NotFoundError, UserError
from server.state import StateStore, dumps, loads

Status = Literal["pending", "in_progress", "completed"]
STATUSES: tuple[str, ...] = ("pending", "in_progress", "completed")
_MARK = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}

MIGRATIONS = [
    """
    CREATE TABLE plans (
        plan_id TEXT PRIMARY KEY,
        todos TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at REAL NOT NULL
    );
    """
]


class Todo(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    content: str = Field(min_length=1, max_length=500)
    status: Status = "pending"


class Plan(BaseModel):
    plan_id: str
    todos: list[Todo]
    version: int = Field(description="Increments on every update.")
    updated_at: float
    counts: dict[str, int]

    @property
    def open_items(self) -> int:
        return self.counts.get("pending", 0) + self.counts.get("in_progress", 0)

    def render(self) -> str:
        done = self.counts.get("completed", 0)
        lines = [f"Plan '{self.plan_id}' (v{self.version}): {done}/{len(self.todos)} completed"]
        lines += [f"{_MARK[t.status]} {t.id}. {t.content}" for t in self.todos]
        if not self.todos:
            lines.append("(empty)")
        return "\n".join(lines)


def _validate_plan_id(plan_id: str) -> str:
    if not plan_id or len(plan_id) > 64 or not all(c.isalnum() or c in "-_." for c in plan_id):
        raise UserError(
            f"Invalid plan_id {plan_id!r}: use 1-64 letters, digits, '-', '_' or '.'"
            " (the default plan is 'default')."
        )
    return plan_id


def _coerce_todos(todos: list[Todo] | list[dict]) -> list[Todo]:
    result: list[Todo] = []
    for index, raw in enumerate(todos):
        if isinstance(raw, Todo):
            result.append(raw)
            continue
        status = raw.get("status", "pending")
        if status not in STATUSES:
            raise UserError(
                f"Todo #{index + 1} ({raw.get('id')!r}) has status {status!r}; "
                f"use one of: {', '.join(STATUSES)}."
            )
        try:
            result.append(Todo.model_validate(raw))
        except ValueError as exc:
            raise UserError(f"Todo #{index + 1} is malformed: {exc}") from None
    return result


def _to_plan(plan_id: str, todos: list[Todo], version: int, updated_at: float) -> Plan:
    counts = {status: 0 for status in STATUSES}
    for todo in todos:
        counts[todo.status] += 1
    return Plan(plan_id=plan_id, todos=todos, version=version, updated_at=updated_at, counts=counts)


def update_plan(store: StateStore, plan_id: str, todos: list[Todo] | list[dict]) -> Plan:
    """Replace the plan's todos with ``todos`` (the whole list, in order)."""
    plan_id = _validate_plan_id(plan_id)
    items = _coerce_todos(todos)
    seen: set[str] = set()
    duplicates = sorted({t.id for t in items if t.id in seen or seen.add(t.id)})
    if duplicates:
        raise UserError(f"Todo ids must be unique; repeated: {', '.join(duplicates)}.")
    store.migrate("plan", MIGRATIONS)
    now = time.time()
    with store.transaction() as conn:
        row = conn.execute("SELECT version FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
        version = (row["version"] if row else 0) + 1
        conn.execute(
            "INSERT INTO plans(plan_id, todos, version, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(plan_id) DO UPDATE SET todos=excluded.todos, version=excluded.version, "
            "updated_at=excluded.updated_at",
            (plan_id, dumps([t.model_dump() for t in items]), version, now),
        )
    return _to_plan(plan_id, items, version, now)


def get_plan(store: StateStore, plan_id: str) -> Plan:
    """The stored plan ``plan_id``. Raises NotFoundError (listing the known plans) if none."""
    plan_id = _validate_plan_id(plan_id)
    store.migrate("plan", MIGRATIONS)
    with store.reading() as conn:
        row = conn.execute("SELECT * FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
        known = [r["plan_id"] for r in conn.execute("SELECT plan_id FROM plans LIMIT 20")]
    if row is None:
        if plan_id == "default":
            return _to_plan(plan_id, [], 0, 0.0)
        raise NotFoundError(
            f"No plan {plan_id!r}. Known plans: {', '.join(known) or 'none'}. "
            f"Create it with plan_update(plan_id={plan_id!r}, todos=[...])."
        )
    todos = [Todo.model_validate(t) for t in loads(row["todos"], [])]
    return _to_plan(plan_id, todos, row["version"], row["updated_at"])
