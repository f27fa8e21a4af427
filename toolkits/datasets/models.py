"""Results of datasets_inspect (a description or a query), with the text a model reads."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from server.output_caps import clip_value


class SplitSummary(BaseModel):
    name: str
    rows: int | None = None
    rows_exact: bool = Field(default=True, description="False when the count is an estimate.")
    bytes: int | None = Field(default=None, description="Size of its files (parquet on the Hub).")
    files: int | None = None


class ColumnProfile(BaseModel):
    name: str
    type: str
    nulls: int | None = None
    # Scalars only (numbers, strings, dates as text): an output schema says what comes back.
    min: str | int | float | bool | None = None
    max: str | int | float | bool | None = None
    approx_distinct: int | None = None
    length_min: int | None = Field(default=None, description="Of texts (characters) or lists.")
    length_max: int | None = None
    length_mean: float | None = None
    stats_scope: Literal["metadata", "all_rows", "sample", "viewer", "none"] = Field(
        default="none",
        description="metadata: parquet footers over all rows; all_rows: computed over every row; "
        "sample: the first rows only; viewer: the Hub dataset viewer's statistics.",
    )


class ChatFormat(BaseModel):
    column: str
    roles: dict[str, int] = Field(description="How many turns of each role in the checked rows.")
    turns_min: int
    turns_max: int
    turns_mean: float
    rows_checked: int


class DatasetInspection(BaseModel):
    dataset: str
    source: Literal["hub", "local"]
    format: str | None = None
    configs: list[str] = Field(default_factory=list)
    config: str | None = None
    split: str
    splits: list[SplitSummary]
    columns: list[ColumnProfile]
    columns_total: int
    column_offset: int = 0
    next_column_offset: int | None = None
    truncated: bool = Field(default=False, description="True when more columns follow.")
    sample_rows: list[dict[str, Any]] = Field(default_factory=list)
    chat: ChatFormat | None = None
    license: str | None = None
    description: str | None = None
    notes: list[str] = Field(default_factory=list)
    hint: str | None = None

    def render(self) -> str:
        where = f" config {self.config}" if self.config else ""
        lines = [
            f"{self.dataset} ({self.source}{', ' + self.format if self.format else ''}{where})"
        ]
        if len(self.configs) > 1:
            lines.append(f"configs: {', '.join(self.configs)}")
        lines.append("splits: " + " · ".join(_split_text(s) for s in self.splits))
        if self.license:
            lines.append(f"license: {self.license}")
        if self.description:
            lines.append(f"description: {clip_value(self.description, 300)}")
        first = self.column_offset + 1
        last = self.column_offset + len(self.columns)
        lines.append(f"split {self.split}: {self.columns_total} columns (showing {first}-{last})")
        lines += [f"- {_column_text(c)}" for c in self.columns]
        if self.chat:
            c = self.chat
            roles = ", ".join(f"{role} {count}" for role, count in c.roles.items())
            lines.append(
                f"chat format in {c.column!r}: roles {roles}; turns per row {c.turns_min}-"
                f"{c.turns_max} (mean {c.turns_mean:.1f}) over {c.rows_checked} rows"
            )
        if self.sample_rows:
            lines.append(f"sample ({len(self.sample_rows)} rows):")
            lines += [
                f"{i}. {json.dumps(row, ensure_ascii=False, default=str)}"
                for i, row in enumerate(self.sample_rows, 1)
            ]
        lines += [f"note: {n}" for n in self.notes]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def _split_text(split: SplitSummary) -> str:
    rows = (
        "? rows" if split.rows is None else f"{'' if split.rows_exact else '~'}{split.rows:,} rows"
    )
    return f"{split.name} {rows}"


def _column_text(column: ColumnProfile) -> str:
    facts = [f"{column.name}: {column.type}"]
    if column.nulls is not None:
        facts.append(f"nulls {column.nulls:,}")
    if column.min is not None or column.max is not None:
        facts.append(f"min {clip_value(str(column.min), 40)} max {clip_value(str(column.max), 40)}")
    if column.approx_distinct is not None:
        facts.append(f"~{column.approx_distinct:,} distinct")
    if column.length_min is not None and column.length_max is not None:
        mean = f" mean {column.length_mean:.0f}" if column.length_mean is not None else ""
        facts.append(f"length {column.length_min}-{column.length_max}{mean}")
    if column.stats_scope == "sample":
        facts.append("(first rows)")
    return "  ".join(facts)


class QueryResult(BaseModel):
    dataset: str
    sql: str
    tables: list[str] = Field(description="Views the SQL can read.")
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    offset: int
    truncated: bool = Field(description="True when more rows follow.")
    next_offset: int | None = None
    elapsed_ms: int
    notes: list[str] = Field(default_factory=list)
    hint: str | None = None

    def render(self) -> str:
        head = f"{len(self.rows)} row(s) from #{self.offset + 1} in {self.elapsed_ms} ms"
        lines = [head, " | ".join(self.columns)]
        lines += [" | ".join(_cell(v) for v in row) for row in self.rows]
        lines += [f"note: {n}" for n in self.notes]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return clip_value(text.replace("\n", "\\n"), 120)
