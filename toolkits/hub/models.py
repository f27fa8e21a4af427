"""Results of the hub functions: structured for programs, rendered compactly for models.

Plain pydantic models (no MCP); hub/mcp.py turns them into tool outputs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from server.output_caps import TextPage
from server.untrusted import UntrustedContent

Kind = Literal["model", "dataset", "space"]


def human_bytes(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def human_count(count: int | None) -> str:
    if count is None:
        return "?"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f}{unit}"
    return str(count)


class RepoSummary(BaseModel):
    id: str
    kind: Kind
    downloads: int | None = None
    likes: int | None = None
    pipeline_tag: str | None = None
    library: str | None = None
    tags: list[str] = Field(default_factory=list)
    private: bool | None = None
    gated: bool | str | None = None
    created_at: str | None = None
    last_modified: str | None = None

    def line(self) -> str:
        extras = [x for x in (self.pipeline_tag, self.library) if x]
        flags = [f for f, on in (("private", self.private), ("gated", self.gated)) if on]
        return (
            f"{self.id}  ↓{human_count(self.downloads)} ♥{human_count(self.likes)}"
            + (f"  [{', '.join(extras)}]" if extras else "")
            + (f"  ({', '.join(flags)})" if flags else "")
        )


class SearchResults(BaseModel):
    query: str
    kind: Kind
    results: list[RepoSummary]
    offset: int
    truncated: bool = Field(description="True when more results follow.")
    next_offset: int | None = None
    hint: str | None = None

    def render(self) -> str:
        if not self.results and self.offset:
            return f"No more {self.kind}s match {self.query!r} after #{self.offset}."
        if not self.results:
            return f"No {self.kind}s match {self.query!r}. Try fewer words or other filters."
        lines = [f"{self.kind}s matching {self.query!r} (from #{self.offset + 1}):"]
        lines += [f"- {r.line()}" for r in self.results]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class RepoInfo(BaseModel):
    id: str
    kind: Kind
    url: str
    author: str | None = None
    sha: str | None = None
    private: bool | None = None
    gated: bool | str | None = None
    downloads: int | None = None
    likes: int | None = None
    license: str | None = None
    pipeline_tag: str | None = None
    library: str | None = None
    tags: list[str] = Field(default_factory=list)
    parameters: int | None = Field(default=None, description="From safetensors metadata.")
    parameters_by_dtype: dict[str, int] = Field(default_factory=dict)
    size_bytes: int | None = Field(default=None, description="Sum of the files' sizes.")
    file_count: int | None = None
    files_sample: list[str] = Field(default_factory=list, description="First files, for a glance.")
    base_models: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    sdk: str | None = None
    created_at: str | None = None
    last_modified: str | None = None
    card_summary: str | None = Field(default=None, description="Start of the README body.")

    def render(self) -> str:
        lines = [f"{self.kind} {self.id} — {self.url}"]
        facts = [
            ("downloads", human_count(self.downloads) if self.downloads is not None else None),
            ("likes", self.likes),
            ("license", self.license),
            ("task", self.pipeline_tag),
            ("library", self.library),
            ("sdk", self.sdk),
            ("parameters", human_count(self.parameters) if self.parameters else None),
            ("size", human_bytes(self.size_bytes) if self.size_bytes is not None else None),
            ("files", self.file_count),
            ("private", self.private or None),
            ("gated", self.gated or None),
            ("last modified", self.last_modified),
        ]
        lines.append(" · ".join(f"{k}: {v}" for k, v in facts if v is not None))
        if self.parameters_by_dtype:
            dtypes = ", ".join(f"{k} {human_count(v)}" for k, v in self.parameters_by_dtype.items())
            lines.append(f"parameters by dtype: {dtypes}")
        if self.base_models:
            lines.append(f"base models: {', '.join(self.base_models)}")
        if self.datasets:
            lines.append(f"datasets: {', '.join(self.datasets)}")
        if self.tags:
            lines.append(f"tags: {', '.join(self.tags)}")
        if self.files_sample:
            lines.append(f"files: {', '.join(self.files_sample)}")
        if self.card_summary:
            lines += ["", "card:", self.card_summary]
        return "\n".join(lines)


class RepoEntry(BaseModel):
    path: str
    type: Literal["file", "folder"]
    size: int | None = None
    lfs: bool = False


class FileListing(BaseModel):
    repo_id: str
    kind: Kind
    revision: str
    path: str
    entries: list[RepoEntry]
    offset: int
    truncated: bool
    next_offset: int | None = None
    hint: str | None = None

    def render(self) -> str:
        where = f"{self.repo_id}/{self.path}".rstrip("/")
        if not self.entries:
            return f"No files under {where} at {self.revision}."
        lines = [f"{where} at {self.revision} (from #{self.offset + 1}):"]
        for e in self.entries:
            if e.type == "folder":
                lines.append(f"- {e.path}/")
            else:
                lines.append(f"- {e.path}  {human_bytes(e.size)}{'  (lfs)' if e.lfs else ''}")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class FileContent(TextPage, UntrustedContent):
    repo_id: str
    kind: Kind
    path: str
    revision: str
    size: int | None = None
    binary: bool = Field(default=False, description="True when the file is not text.")

    def render(self) -> str:
        head = f"{self.repo_id}:{self.path} ({human_bytes(self.size)})"
        if self.binary:
            return f"{head} is binary; its content is not shown. {self.hint or ''}".strip()
        tail = f"\n\n{self.hint}" if self.hint else ""
        return f"{head}, characters {self.offset}-{self.offset + len(self.text)} of {self.total_chars}:\n{self.text}{tail}"


class RepoCreated(BaseModel):
    repo_id: str
    kind: Kind
    url: str
    private: bool
    created: bool = Field(description="False when the repository already existed.")

    def render(self) -> str:
        state = "Created" if self.created else "Already existed:"
        return f"{state} {self.kind} {self.repo_id} ({'private' if self.private else 'public'}) — {self.url}"


class CommitResult(BaseModel):
    repo_id: str
    kind: Kind
    commit_url: str
    commit_oid: str | None = None
    pr_url: str | None = None
    paths: list[str] = Field(description="Paths added or deleted in the repository.")
    bytes_uploaded: int | None = None

    def render(self) -> str:
        shown = ", ".join(self.paths[:20]) + (
            f" (+{len(self.paths) - 20} more)" if len(self.paths) > 20 else ""
        )
        lines = [f"Committed to {self.kind} {self.repo_id}: {shown}", f"commit: {self.commit_url}"]
        if self.pr_url:
            lines.append(f"pull request: {self.pr_url}")
        return "\n".join(lines)
