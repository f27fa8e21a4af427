"""Reading one file of a repository by line range, within the output budget."""

from __future__ import annotations

import base64
import difflib
import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from server.errors import NotFoundError, UserError
from server.output_caps import clip_value
from server.settings import Settings
from server.untrusted import UntrustedContent, strip_invisible
from toolkits.github.client import Progress, is_not_found, no_progress, open_github
from toolkits.github.notebook import notebook_to_markdown
from toolkits.github.repos import missing_repo_message, parse_repo

if TYPE_CHECKING:
    from github import Github
    from github.ContentFile import ContentFile
    from github.Repository import Repository

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_LINE_CHARS = 2000  # minified code: one line must not eat the whole window
_LINE_NUMBER_WIDTH = 7  # "12345| " in the rendered text
_REF = re.compile(r"^[\w./@{}^~-]{1,255}$")


class FileWindow(UntrustedContent):
    repo: str
    path: str
    ref: str | None = Field(default=None, description="Branch, tag or commit; None: default.")
    sha: str = Field(description="Blob SHA of the file.")
    size: int = Field(description="File size in bytes.")
    html_url: str | None = None
    rendered_from: Literal["text", "notebook"] = "text"
    total_lines: int
    line_start: int
    line_end: int = Field(description="Last line returned (inclusive).")
    text: str = Field(description="The lines line_start..line_end, without line numbers.")
    clipped_lines: int = Field(default=0, description=f"Lines cut at {MAX_LINE_CHARS} chars.")
    truncated: bool = Field(description="True when the file continues after line_end.")
    next_line_start: int | None = None
    hint: str | None = None

    def render(self) -> str:
        at = f"@{self.ref}" if self.ref else ""
        kind = (
            " (notebook as markdown, outputs omitted)" if self.rendered_from == "notebook" else ""
        )
        span = f"lines {self.line_start}-{self.line_end} of {self.total_lines}"
        lines = [f"{self.repo}:{self.path}{at} — {span if self.total_lines else 'empty'}{kind}"]
        numbered = self.text.split("\n") if self.text else []
        lines += [f"{n:>5}| {line}" for n, line in enumerate(numbered, self.line_start)]
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def clean_path(path: str) -> str:
    cleaned = path.strip().strip("/")
    if not cleaned or any(part in ("", ".", "..") for part in cleaned.split("/")):
        raise UserError(
            f"{path!r} is not a file path inside a repository: use e.g. 'examples/train.py'."
        )
    return cleaned


def check_ref(ref: str | None) -> str | None:
    if ref is None or not ref.strip():
        return None
    if not _REF.match(ref.strip()):
        raise UserError(f"{ref!r} is not a branch, tag or commit name.")
    return ref.strip()


def read_file(
    settings: Settings,
    repo: str,
    path: str,
    ref: str | None = None,
    line_start: int = 1,
    line_end: int | None = None,
    progress: Progress = no_progress,
) -> FileWindow:
    """Lines ``line_start..line_end`` of a file, cut to the output budget; notebooks as markdown."""
    full_name, path, ref = parse_repo(repo), clean_path(path), check_ref(ref)
    if line_end is not None and line_end < line_start:
        raise UserError(f"line_end ({line_end}) is before line_start ({line_start}).")
    with open_github(settings) as gh:
        handle = gh.get_repo(full_name)
        try:
            found = handle.get_contents(path, ref=ref) if ref else handle.get_contents(path)
        except Exception as exc:
            if is_not_found(exc):
                raise NotFoundError(_missing_file(gh, handle, full_name, path, ref)) from None
            raise
        progress(1, 2, f"fetched {path}")
        if isinstance(found, list):
            raise UserError(_directory_message(full_name, path, found))
        data = _file_bytes(handle, found, full_name)
    if b"\0" in data[:8192]:
        raise UserError(
            f"{full_name}:{path} is a binary file ({found.size} bytes): github_read_file shows "
            f"text only. Download it from {found.download_url or found.html_url} instead."
        )
    text = strip_invisible(data.decode("utf-8", errors="replace"))
    rendered_from: Literal["text", "notebook"] = "text"
    if path.lower().endswith(".ipynb") and (markdown := notebook_to_markdown(text)) is not None:
        text, rendered_from = markdown, "notebook"
    lines = text.splitlines()
    # Leave room under the text cap for the header and the hint around the numbered lines.
    budget = settings.max_output_chars - 1000
    first, last, shown, clipped = _window(lines, line_start, line_end, budget)
    total = len(lines)
    more = last < total
    hint = None
    if more:
        call = f"github_read_file(repo={full_name!r}, path={path!r}"
        call += f", ref={ref!r}" if ref else ""
        reason = "the output budget" if line_end is None or last < line_end else "your line_end"
        hint = (
            f"Stopped at line {last} of {total} ({reason}). "
            f"Call {call}, line_start={last + 1}) for more."
        )
    return FileWindow(
        repo=full_name,
        path=path,
        ref=ref,
        sha=found.sha,
        size=found.size,
        html_url=found.html_url,
        rendered_from=rendered_from,
        total_lines=total,
        line_start=first,
        line_end=last,
        text="\n".join(shown),
        clipped_lines=clipped,
        truncated=more,
        next_line_start=last + 1 if more else None,
        hint=hint,
    )


def _window(
    lines: list[str], line_start: int, line_end: int | None, budget: int
) -> tuple[int, int, list[str], int]:
    """(first, last, lines, clipped): as many requested lines as fit ``budget`` characters."""
    total = len(lines)
    if total == 0:
        return 1, 0, [], 0
    if line_start > total:
        raise UserError(f"The file has {total} lines; use a line_start from 1 to {total}.")
    stop = min(line_end or total, total)
    shown: list[str] = []
    used = clipped = 0
    for number in range(line_start, stop + 1):
        line = lines[number - 1]
        if len(line) > MAX_LINE_CHARS:
            line, clipped = clip_value(line, MAX_LINE_CHARS), clipped + 1
        used += len(line) + _LINE_NUMBER_WIDTH + 1
        if shown and used > budget:
            break
        shown.append(line)
    return line_start, line_start + len(shown) - 1, shown, clipped


def _file_bytes(handle: Repository, found: ContentFile, full_name: str) -> bytes:
    if found.type == "symlink":
        raise UserError(f"{full_name}:{found.path} is a symlink to {found.target!r}; read that.")
    if found.type == "submodule":
        raise UserError(
            f"{full_name}:{found.path} is a git submodule ({found.submodule_git_url}); read files "
            "from that repository instead."
        )
    if found.encoding == "base64":
        return found.decoded_content
    # The contents API leaves files over 1 MB out (encoding "none"); the blob API has them.
    if found.size > MAX_FILE_BYTES:
        raise UserError(
            f"{full_name}:{found.path} is {found.size / 1024**2:.1f} MB, over the "
            f"{MAX_FILE_BYTES // 1024**2} MB this tool reads. Download it from "
            f"{found.download_url or found.html_url} instead."
        )
    blob = handle.get_git_blob(found.sha)
    return base64.b64decode(blob.content)


def _directory_message(full_name: str, path: str, entries: list[ContentFile]) -> str:
    names = [f"{e.name}/" if e.type == "dir" else e.name for e in entries[:40]]
    more = f" and {len(entries) - 40} more" if len(entries) > 40 else ""
    return (
        f"{full_name}:{path} is a directory holding {', '.join(names)}{more}. "
        f"Read a file with github_read_file(repo={full_name!r}, path='{path}/<name>')."
    )


def _missing_file(
    gh: Github, handle: Repository, full_name: str, path: str, ref: str | None
) -> str:
    """Why the file is missing: no such repository, no such ref, or a near-miss path."""
    try:
        default_branch = handle.default_branch  # fetches the repository itself
    except Exception as exc:
        if is_not_found(exc):
            return missing_repo_message(gh, full_name)
        raise
    where = ref or default_branch
    try:
        tree = handle.get_git_tree(where, recursive=True).tree
    except Exception as exc:
        if is_not_found(exc) and ref:
            return (
                f"{full_name} has no branch, tag or commit {ref!r}. Leave ref out to read the "
                f"default branch ({default_branch})."
            )
        raise
    paths = [entry.path for entry in tree if entry.type == "blob"]
    base = path.rsplit("/", 1)[-1].lower()
    same_name = [p for p in paths if p.rsplit("/", 1)[-1].lower() == base]
    close = difflib.get_close_matches(path, paths, n=5, cutoff=0.6)
    suggestions = list(dict.fromkeys(same_name[:5] + close))[:5]
    message = f"{full_name}@{where} has no file {path!r}."
    if suggestions:
        message += " Did you mean: " + ", ".join(suggestions) + "?"
    return (
        f"{message} To look around, use github_find_examples(repo={full_name!r}, keyword=...) "
        "or read a directory's path to list it."
    )
