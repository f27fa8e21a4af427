"""Sections of an arXiv HTML paper (LaTeXML output) as numbered plain text.

arXiv renders papers with LaTeXML: ``section.ltx_section`` / ``ltx_subsection`` /
``ltx_subsubsection`` / ``ltx_appendix`` / ``ltx_bibliography`` hold an ``h2``-``h4`` title whose
``span.ltx_tag`` carries the number ("4.1 ", "Appendix A "), ``div.ltx_abstract`` holds the
abstract, and maths is MathML whose ``alttext`` is the original TeX. Parsing uses the standard
library only: the structure is regular and the pages can be megabytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_SECTION_LEVELS = {
    "ltx_abstract": 1,
    "ltx_section": 1,
    "ltx_appendix": 1,
    "ltx_bibliography": 1,
    "ltx_subsection": 2,
    "ltx_subsubsection": 3,
}
_SKIP_TAGS = {"script", "style", "nav", "header", "footer", "button", "svg", "head"}
# Item bullets ("•") duplicate the "- " each list item gets; authors come from the Hub instead.
_SKIP_CLASSES = {
    "ltx_page_header",
    "ltx_page_footer",
    "ltx_page_navbar",
    "ltx_authors",
    "ltx_tag_item",
}
_VOID_TAGS = {"br", "img", "hr", "input", "meta", "link", "col", "wbr", "source", "area"}
_BLOCK_TAGS = {"p", "div", "figure", "figcaption", "table", "ul", "ol", "blockquote", "pre"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


@dataclass
class Section:
    number: str
    title: str
    level: int
    text: str = ""
    parts: list[str] = field(default_factory=list, repr=False)


@dataclass
class ParsedPaper:
    title: str
    sections: list[Section]


class _LatexmlParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.sections: list[Section] = []
        self._open: list[tuple[str, str]] = []  # (tag, role: "section" | "number" | "")
        self._section_stack: list[Section] = []
        self._skip_depth = 0
        self._heading: list[str] | None = None
        self._heading_kind = ""
        self._in_doc_title = False

    # --- helpers -------------------------------------------------------------------------
    def _emit(self, text: str) -> None:
        if self._section_stack:
            self._section_stack[-1].parts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_depth:
            self._skip_depth += tag not in _VOID_TAGS
            return
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if tag in _SKIP_TAGS or classes & _SKIP_CLASSES:
            self._skip_depth = tag not in _VOID_TAGS
            return
        if tag == "math":
            # The MathML tree spells TeX out symbol by symbol; the alttext is the readable form.
            alt = (attributes.get("alttext") or "").strip()
            if alt:
                self._write(f" ${alt}$ ")
            self._skip_depth = 1
            return
        if tag in _VOID_TAGS:
            if tag == "br":
                self._write("\n")
            return
        role = ""
        level = next((_SECTION_LEVELS[c] for c in classes if c in _SECTION_LEVELS), 0)
        if level and tag in ("section", "div"):
            section = Section(number="", title="", level=level)
            if "ltx_abstract" in classes:
                section.title = "Abstract"
            elif "ltx_bibliography" in classes:
                section.title = "References"
            self.sections.append(section)
            self._section_stack.append(section)
            role = "section"
        elif tag in _HEADINGS and "ltx_title_document" in classes:
            self._in_doc_title = True
        elif tag in _HEADINGS and "ltx_title" in classes:
            self._heading = []
            self._heading_kind = next((c for c in classes if c.startswith("ltx_title_")), "")
        elif tag == "span" and "ltx_tag" in classes and self._heading is not None:
            role = "number"
        elif tag in ("td", "th"):
            self._write(" | ")
        elif tag == "li":
            self._write("\n- ")
        elif tag in _BLOCK_TAGS:
            self._write("\n")
        self._open.append((tag, role))

    def handle_endtag(self, tag: str) -> None:
        if self._skip_depth:
            self._skip_depth -= tag not in _VOID_TAGS
            return
        if not any(open_tag == tag for open_tag, _ in self._open):
            return  # a stray end tag: ignore rather than unwind the whole stack
        while self._open:
            open_tag, role = self._open.pop()
            self._close(open_tag, role)
            if open_tag == tag:
                break

    def _close(self, tag: str, role: str) -> None:
        if role == "section" and self._section_stack:
            self._section_stack.pop()
        elif role == "number" and self._heading is not None:
            self._heading.append("\x00")  # marks where the number ends inside the heading
        elif tag in _HEADINGS and self._in_doc_title:
            self._in_doc_title = False
        elif tag in _HEADINGS and self._heading is not None:
            self._finish_heading()
        elif tag in ("p", "figcaption", "tr", "table", "li", "blockquote", "pre"):
            self._write("\n\n" if tag == "p" else "\n")

    def _finish_heading(self) -> None:
        raw = "".join(self._heading or [])
        number, _, title = raw.rpartition("\x00")
        number = " ".join(number.split())
        number = re.sub(r"^(Appendix|Section)\s+", "", number).rstrip(".:")
        title = " ".join(title.split())
        self._heading = None
        current = self._section_stack[-1] if self._section_stack else None
        is_own_title = self._heading_kind.removeprefix("ltx_title_") in (
            "section",
            "subsection",
            "subsubsection",
            "appendix",
            "bibliography",
            "abstract",
        )
        untitled = current is not None and not current.number and not "".join(current.parts).strip()
        if current is not None and is_own_title and untitled:
            current.number = number
            current.title = title or current.title or number
        else:  # a paragraph heading ("Learning rate.") or similar: keep it inline, in bold
            self._write(f"\n**{' '.join(p for p in (number, title) if p)}** ")

    def _write(self, text: str) -> None:
        if self._heading is not None:
            self._heading.append(text)
        else:
            self._emit(text)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_doc_title:
            self.title_parts.append(data)
        elif self._heading is not None:
            self._heading.append(data)
        else:
            self._emit(re.sub(r"\s+", " ", data))


def _tidy(parts: list[str]) -> str:
    lines = [" ".join(line.split()) for line in "".join(parts).split("\n")]
    text = "\n".join(lines)
    # Only from the start of a run of whitespace: from every position, a long run of empty lines
    # in a hostile page would be scanned again and again (quadratic).
    text = re.sub(r"(?<!\s)\s+([,.;:)])", r"\1", text)
    text = re.sub(r"(?m)^-\n+(?=\S)", "- ", text)  # a list item's paragraph joins its bullet
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def parse_paper(html: str) -> ParsedPaper:
    parser = _LatexmlParser()
    parser.feed(html)
    parser.close()
    for section in parser.sections:
        section.text = _tidy(section.parts)
        section.parts = []
    sections = [s for s in parser.sections if s.title or s.number or s.text]
    return ParsedPaper(title=" ".join("".join(parser.title_parts).split()), sections=sections)


def section_with_children(sections: list[Section], index: int) -> str:
    """The text of ``sections[index]`` followed by its subsections, each under its heading."""
    head = sections[index]
    chunks = [head.text] if head.text else []
    for child in sections[index + 1 :]:
        if child.level <= head.level:
            break
        heading = f"{child.number} {child.title}".strip()
        chunks.append(f"{'#' * (child.level - head.level + 1)} {heading}\n\n{child.text}".strip())
    return "\n\n".join(chunks)


def find_section(sections: list[Section], query: str) -> int | None:
    """Index of the section a caller means: by number ('4.1', 'A'), then title, then words."""
    wanted = " ".join(query.lower().split())
    number = re.sub(r"^(section|appendix|sec\.?|§)\s*", "", wanted).rstrip(".")
    for index, section in enumerate(sections):
        if section.number and section.number.lower() == number:
            return index
    for index, section in enumerate(sections):
        if section.title.lower() == wanted:
            return index
    for index, section in enumerate(sections):
        if wanted in section.title.lower():
            return index
    words = set(re.findall(r"\w+", wanted))
    for index, section in enumerate(sections):
        if words and words <= set(re.findall(r"\w+", section.title.lower())):
            return index
    return None
