"""Finding example code in a repository by walking its file tree (one API call, no token needed).

Paths carry most of the signal: maintainers put runnable code under examples/, scripts/,
notebooks/ and name it after what it shows (examples/scripts/grpo.py). Content search is
github_search_code's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, Field

from server.errors import NotFoundError
from server.settings import Settings
from toolkits.github.client import Progress, is_not_found, no_progress, open_github
from toolkits.github.files import check_ref
from toolkits.github.repos import open_repo, parse_repo

EXAMPLE_DIRS: dict[str, float] = {
    "examples": 3.0,
    "example": 3.0,
    "notebooks": 2.5,
    "tutorials": 2.5,
    "tutorial": 2.5,
    "recipes": 2.5,
    "cookbook": 2.5,
    "quickstart": 2.5,
    "scripts": 2.0,
    "demos": 2.0,
    "demo": 2.0,
    "samples": 2.0,
    "sample": 2.0,
    "script": 1.5,
    "training": 1.0,
    "train": 1.0,
}
# Runnable code and notebooks first; READMEs and configs explain an example but are not one.
FILE_KINDS: dict[str, float] = {
    ".py": 2.0,
    ".ipynb": 2.0,
    ".sh": 1.0,
    ".md": 0.5,
    ".yaml": 0.5,
    ".yml": 0.5,
}
TEST_DIRS = {"test", "tests", "testing"}
SKIP_NAMES = {"__init__.py", "setup.py", "conftest.py"}


class ExampleFile(BaseModel):
    path: str
    size: int | None = Field(default=None, description="Bytes.")
    score: float
    why: list[str] = Field(description="What made it rank: example directory, keyword match.")


class ExampleList(BaseModel):
    repo: str
    ref: str
    keyword: str
    files: list[ExampleFile]
    matched: int = Field(description="Files that qualified (before offset/limit).")
    scanned: int = Field(description="Files in the repository tree.")
    keyword_matched: bool = Field(description="False: no path matched; example files shown.")
    tree_truncated: bool = Field(description="GitHub cut the tree listing (very large repo).")
    offset: int
    truncated: bool
    next_offset: int | None = None
    hint: str | None = None

    def render(self) -> str:
        what = f"match {self.keyword!r}" if self.keyword and self.keyword_matched else "qualify"
        shown = f"{self.offset + 1}-{self.offset + len(self.files)}" if self.files else "none"
        lines = [
            f"{self.repo}@{self.ref}: {self.matched} files {what} "
            f"(of {self.scanned} in the tree); showing {shown}"
        ]
        if self.keyword and not self.keyword_matched:
            lines.append(f"No path matches {self.keyword!r}; these are the example files.")
        for index, item in enumerate(self.files, self.offset + 1):
            size = f" ({_size(item.size)})" if item.size is not None else ""
            lines.append(f"{index}. {item.path}{size} — {'; '.join(item.why)}")
        if self.tree_truncated:
            lines.append("GitHub truncated this tree: some files were not seen.")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KB"


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def rank_examples(
    files: Iterable[tuple[str, int | None]], keyword: str
) -> tuple[list[ExampleFile], bool]:
    """Rank file paths as examples of ``keyword``; the bool says whether any path matched it."""
    tokens = [token for token in re.split(r"[^a-z0-9]+", keyword.lower()) if token]
    by_keyword: list[ExampleFile] = []
    by_place: list[ExampleFile] = []
    everything: list[ExampleFile] = []
    for path, size in files:
        parts = path.split("/")
        name, folders = parts[-1], [part.lower() for part in parts[:-1]]
        kind = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if kind not in FILE_KINDS or name in SKIP_NAMES or any(p.startswith(".") for p in parts):
            continue
        score, why = FILE_KINDS[kind], []
        place = max(folders, key=lambda f: EXAMPLE_DIRS.get(f, 0.0), default="")
        if place in EXAMPLE_DIRS:
            score += EXAMPLE_DIRS[place] + (0.5 if folders[0] == place else 0.0)
            why.append(f"in {place}/")
        if TEST_DIRS.intersection(folders) or name.startswith("test_"):
            score -= 3.0
            why.append("test code")
        stem = _squash(name.rsplit(".", 1)[0])
        in_name = [t for t in tokens if t in stem]
        in_folder = [
            t for t in tokens if t not in in_name and any(t in _squash(f) for f in folders)
        ]
        score += 4.0 * len(in_name) + 2.0 * len(in_folder)
        phrase = "".join(tokens)
        if len(tokens) > 1 and phrase in stem:
            score += 2.0
        if phrase and stem == phrase:  # grpo.py is about GRPO; grpo_utils.py only touches it
            score += 1.0
        if in_name:
            why.append(f"name has {', '.join(in_name)}")
        if in_folder:
            why.append(f"folder has {', '.join(in_folder)}")
        score -= 0.1 * len(folders)  # shallower files are the entry points
        item = ExampleFile(path=path, size=size, score=round(score, 2), why=why or [kind[1:]])
        everything.append(item)
        if in_name or in_folder:
            by_keyword.append(item)
        elif place in EXAMPLE_DIRS:
            by_place.append(item)
    if tokens and by_keyword:
        chosen, keyword_matched = by_keyword, True
    else:
        chosen = by_place or everything
        keyword_matched = not tokens
    return sorted(chosen, key=lambda item: (-item.score, item.path)), keyword_matched


def find_examples(
    settings: Settings,
    repo: str,
    keyword: str = "",
    ref: str | None = None,
    limit: int = 20,
    offset: int = 0,
    progress: Progress = no_progress,
) -> ExampleList:
    """Example files of ``repo`` ranked for ``keyword``, from the whole tree at ``ref``."""
    full_name, ref = parse_repo(repo), check_ref(ref)
    with open_github(settings) as gh:
        handle = open_repo(gh, full_name)
        where = ref or handle.default_branch
        progress(1, 3, f"reading the file tree of {full_name}@{where}")
        try:
            tree = handle.get_git_tree(where, recursive=True)
        except Exception as exc:
            if is_not_found(exc):
                raise NotFoundError(
                    f"{full_name} has no branch, tag or commit {where!r}. Leave ref out to use "
                    f"the default branch ({handle.default_branch})."
                ) from None
            raise
        blobs = [(entry.path, entry.size) for entry in tree.tree if entry.type == "blob"]
        tree_truncated = bool(tree.truncated)
    progress(2, 3, f"ranking {len(blobs)} files")
    ranked, keyword_matched = rank_examples(blobs, keyword)
    window = ranked[offset : offset + limit]
    more = offset + len(window) < len(ranked)
    next_offset = offset + len(window) if more else None
    read = f"Read one with github_read_file(repo={full_name!r}, path=...)."
    if more:
        ref_arg = f", ref={ref!r}" if ref else ""
        read += (
            f" More: github_find_examples(repo={full_name!r}, keyword={keyword!r}{ref_arg}, "
            f"offset={next_offset})."
        )
    return ExampleList(
        repo=full_name,
        ref=where,
        keyword=keyword,
        files=window,
        matched=len(ranked),
        scanned=len(blobs),
        keyword_matched=keyword_matched,
        tree_truncated=tree_truncated,
        offset=offset,
        truncated=more,
        next_offset=next_offset,
        hint=read,
    )
