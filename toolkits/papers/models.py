"""What the papers tools return, and how each result reads as text for a model."""

from __future__ import annotations

from pydantic import BaseModel, Field

from server.output_caps import clip_value
from server.untrusted import OpenText, UntrustedContent


class PaperSummary(BaseModel):
    arxiv_id: str
    title: OpenText
    authors: list[OpenText] = Field(description="First authors; 'et al.' when there are more.")
    published: str | None = Field(default=None, description="arXiv publication date.")
    upvotes: int | None = None
    summary: OpenText = Field(description="Abstract, shortened.")
    keywords: list[OpenText] = []
    github_repo: str | None = None


class PaperList(UntrustedContent):
    source: str = Field(description="Where the list comes from.")
    papers: list[PaperSummary]
    offset: int
    next_offset: int | None = Field(default=None, description="Pass as offset for more.")
    hint: str | None = None
    note: str | None = None

    def render(self) -> str:
        lines = [f"{self.source}: {len(self.papers)} paper(s) from #{self.offset + 1}"]
        for number, paper in enumerate(self.papers, start=self.offset + 1):
            meta = [f"arXiv:{paper.arxiv_id}"]
            meta += [paper.published] if paper.published else []
            meta += [f"{paper.upvotes} upvotes"] if paper.upvotes is not None else []
            lines.append(f"{number}. {paper.title}")
            lines.append(f"   {' | '.join(meta)} | {', '.join(paper.authors)}")
            if paper.keywords:
                lines.append(f"   keywords: {', '.join(paper.keywords)}")
            lines.append(f"   {paper.summary}")
        lines += [text for text in (self.note, self.hint) if text]
        if self.papers:
            lines.append("Details, sections and linked models: papers_get(arxiv_id=...).")
        return "\n".join(lines)


class LinkedRepo(BaseModel):
    repo_id: str
    downloads: int | None = None
    likes: int | None = None


class SectionHeading(BaseModel):
    number: OpenText = Field(description="'4', '4.1', 'A'; empty for unnumbered sections.")
    title: OpenText
    level: int = Field(description="1 section, 2 subsection, 3 subsubsection.")


class SectionText(BaseModel):
    number: OpenText
    title: OpenText
    text: OpenText
    offset: int
    total_chars: int
    truncated: bool
    next_offset: int | None = None
    hint: str | None = None


class PaperDetails(UntrustedContent):
    arxiv_id: str
    title: OpenText
    source: str = Field(description="'huggingface' (Hub papers page) or 'arxiv' (export API).")
    authors: list[OpenText] = Field(default_factory=list)
    published: str | None = None
    abstract: OpenText | None = None
    ai_summary: OpenText | None = None
    keywords: list[OpenText] = Field(default_factory=list)
    upvotes: int | None = None
    links: dict[str, str] = Field(default_factory=dict)
    linked_models: list[LinkedRepo] = Field(default_factory=list)
    linked_datasets: list[LinkedRepo] = Field(default_factory=list)
    more_linked: str | None = Field(default=None, description="How to list all linked repos.")
    sections: list[SectionHeading] = Field(
        default_factory=list, description="Outline of the arXiv HTML version."
    )
    section: SectionText | None = Field(default=None, description="The requested section.")
    notes: list[str] = Field(default_factory=list)

    def render(self) -> str:
        if self.section is not None:
            return self._render_section(self.section)
        lines = [f"{self.title} (arXiv:{self.arxiv_id})"]
        if self.authors:
            lines.append("Authors: " + ", ".join(self.authors))
        facts = [f"published {self.published}"] if self.published else []
        facts += [f"{self.upvotes} upvotes on Hugging Face"] if self.upvotes is not None else []
        if facts:
            lines.append("; ".join(facts))
        if self.keywords:
            lines.append("Keywords: " + ", ".join(self.keywords))
        if self.abstract:
            lines += ["", "Abstract: " + self.abstract]
        lines += ["", "Links:"] + [f"- {name}: {url}" for name, url in self.links.items()]
        for label, repos in (("models", self.linked_models), ("datasets", self.linked_datasets)):
            if repos:
                lines.append(f"Linked {label}: " + ", ".join(_repo_text(r) for r in repos))
        if self.more_linked:
            lines.append(self.more_linked)
        if self.sections:
            lines += ["", "Sections (read one with papers_get(arxiv_id=..., section='4.1')):"]
            lines += [
                "  " * (s.level - 1) + (f"{s.number} " if s.number else "") + s.title
                for s in self.sections
            ]
        lines += self.notes
        return "\n".join(lines)

    def _render_section(self, section: SectionText) -> str:
        heading = f"{section.number} {section.title}".strip()
        lines = [f"{self.title} (arXiv:{self.arxiv_id}) — {heading}", "", section.text]
        if section.hint:
            lines += ["", section.hint]
        return "\n".join(lines)


def _repo_text(repo: LinkedRepo) -> str:
    return repo.repo_id + (f" ({repo.downloads} downloads)" if repo.downloads is not None else "")


class CitingPaper(BaseModel):
    title: OpenText | None
    year: int | None = None
    venue: OpenText | None = None
    authors: list[OpenText] = []
    arxiv_id: str | None = None
    doi: str | None = None
    semantic_scholar_id: str | None = None
    citation_count: int | None = None
    influential: bool = Field(description="Semantic Scholar's isInfluential flag.")
    intents: list[str] = []
    contexts: list[OpenText] = Field(
        default_factory=list, description="Sentences around the citation."
    )


class CitationList(UntrustedContent):
    arxiv_id: str
    direction: str = Field(description="'references' (papers it cites) or 'citations' (cited by).")
    papers: list[CitingPaper]
    offset: int
    next_offset: int | None = None
    hint: str | None = None
    cached: bool = Field(description="True when served from the local cache.")
    fetched_at: float

    def render(self) -> str:
        what = "References of" if self.direction == "references" else "Papers citing"
        if not self.papers:
            empty = (
                f"{what} arXiv:{self.arxiv_id}: none from #{self.offset + 1} (Semantic Scholar)."
            )
            return empty
        lines = [
            f"{what} arXiv:{self.arxiv_id} (Semantic Scholar), "
            f"#{self.offset + 1}-{self.offset + len(self.papers)}; ★ = influential:"
        ]
        for number, paper in enumerate(self.papers, start=self.offset + 1):
            parts = [paper.title or "(untitled)"]
            parts[0] += f" ({paper.year})" if paper.year else ""
            if paper.authors:
                parts.append(", ".join(paper.authors))
            if paper.arxiv_id:
                parts.append(f"arXiv:{paper.arxiv_id}")
            elif paper.doi:
                parts.append(f"doi:{paper.doi}")
            if paper.citation_count is not None:
                parts.append(f"{paper.citation_count} citations")
            star = "★ " if paper.influential else ""
            intents = f" [{', '.join(paper.intents)}]" if paper.intents else ""
            lines.append(f"{number}. {star}{' — '.join(parts)}{intents}")
            lines += [f"   “{context}”" for context in paper.contexts]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def clip_summary(text: str | None, max_chars: int = 300) -> str:
    return clip_value(" ".join((text or "").split()), max_chars)
