"""arXiv identifiers as people paste them: bare, versioned, prefixed or as a URL."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.errors import UserError

_NEW_STYLE = re.compile(r"^(\d{4}\.\d{4,5})(v\d+)?$")
_OLD_STYLE = re.compile(r"^([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(v\d+)?$")
_URL_PREFIX = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?(?:arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/)"
)


@dataclass(frozen=True)
class ArxivId:
    base: str  # without version: what the Hub and Semantic Scholar key papers by
    version: str = ""  # "v2" when the caller asked for a specific version

    @property
    def versioned(self) -> str:
        return self.base + self.version


def parse_arxiv_id(raw: str) -> ArxivId:
    text = raw.strip()
    text = _URL_PREFIX.sub("", text)
    text = re.sub(r"^arxiv:", "", text, flags=re.IGNORECASE).removesuffix(".pdf").strip("/")
    for pattern in (_NEW_STYLE, _OLD_STYLE):
        match = pattern.match(text)
        if match:
            return ArxivId(match.group(1), match.group(2) or "")
    raise UserError(
        f"{raw!r} is not an arXiv id. Use the form 2502.01234 (a version such as 2502.01234v2 "
        "or an arxiv.org / huggingface.co/papers URL works too); find ids with "
        "papers_search(query=...)."
    )
