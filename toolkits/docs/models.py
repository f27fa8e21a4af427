"""What the docs tools return, and how each result reads as text for a model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from server.untrusted import UntrustedContent


class DocHit(BaseModel):
    library: str
    title: str
    section: str = Field(description="Sidebar section the page sits in.")
    url: str = Field(description="Pass to docs_search(url=...) to read the page.")
    snippet: str = Field(description="Where the words matched, matches in **bold**.")
    score: float = Field(description="BM25 relevance; higher is better.")


class DocSearchResult(UntrustedContent):
    query: str
    libraries: list[str] = Field(description="Libraries searched.")
    hits: list[DocHit]
    offset: int
    next_offset: int | None = None
    hint: str | None = None
    notes: list[str] = Field(default_factory=list)

    def render(self) -> str:
        where = ", ".join(self.libraries)
        if not self.hits:
            lines = [f"No docs pages match {self.query!r} in {where}."]
            lines.append(
                "Try other words (API names such as 'SFTTrainer' work well), or another "
                "library=... (transformers, trl, peft, datasets, hub, diffusers, accelerate, ...)."
            )
        else:
            lines = [f"Docs pages for {self.query!r} in {where}:"]
        for number, hit in enumerate(self.hits, start=self.offset + 1):
            place = f"{hit.library} › {hit.section} › {hit.title}" if hit.section else hit.title
            lines.append(f"{number}. {place}\n   {hit.url}\n   {hit.snippet}")
        if self.hits:
            lines.append("Read a page with docs_search(url=...).")
        lines += self.notes + ([self.hint] if self.hint else [])
        return "\n".join(lines)


class DocPage(UntrustedContent):
    url: str
    markdown_url: str
    title: str | None = None
    text: str = Field(description="A window of the page's markdown.")
    offset: int
    total_chars: int
    truncated: bool
    next_offset: int | None = None
    hint: str | None = None
    cached: bool = Field(description="True when served from the local docs cache.")

    def render(self) -> str:
        head = f"{self.title} — {self.url}" if self.title else self.url
        position = f"characters {self.offset}-{self.offset + len(self.text)} of {self.total_chars}"
        lines = [f"{head} ({position})", "", self.text]
        if self.hint:
            lines += ["", self.hint]
        return "\n".join(lines)
