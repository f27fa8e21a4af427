"""Repositories: names, an owner's repositories sorted across every page, "did you mean" on 404."""

from __future__ import annotations

import difflib
import itertools
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from server.errors import NotFoundError, UserError
from server.output_caps import clip_value
from server.settings import Settings
from toolkits.github.client import Progress, is_not_found, no_progress, open_github

if TYPE_CHECKING:
    from github import Github
    from github.PaginatedList import PaginatedList
    from github.Repository import Repository

RepoSort = Literal["stars", "forks", "updated", "name"]
# An owner with thousands of repositories is read up to here (10 pages of 100), most recently
# pushed first, so the sort covers the repositories that matter without spending the rate limit.
MAX_REPOS_SCANNED = 1000
_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_REPO_NAME = re.compile(rf"^{_OWNER}/[A-Za-z0-9._-]{{1,100}}$")
_OWNER_NAME = re.compile(rf"^{_OWNER}$")
_GITHUB_URL = re.compile(r"^(?:https?://)?(?:www\.)?github\.com/([^/\s]+)/([^/\s#?]+)")


def parse_repo(text: str) -> str:
    """'owner/name' from 'owner/name', 'owner/name.git' or a github.com URL."""
    value = text.strip()
    if match := _GITHUB_URL.match(value):
        value = f"{match[1]}/{match[2]}"
    value = value.strip("/").removesuffix(".git")
    if not _REPO_NAME.match(value):
        raise UserError(
            f"{text!r} is not a GitHub repository: use 'owner/name', "
            "e.g. 'huggingface/transformers'."
        )
    return value


def parse_owner(text: str) -> str:
    value = text.strip().removeprefix("@")
    if match := re.match(r"^(?:https?://)?(?:www\.)?github\.com/([^/\s]+)/?$", value):
        value = match[1]
    if not _OWNER_NAME.match(value):
        raise UserError(
            f"{text!r} is not a GitHub user or organization login: use e.g. 'huggingface'."
        )
    return value


class RepoSummary(BaseModel):
    full_name: str
    description: str | None = None
    stars: int
    forks: int
    language: str | None = None
    pushed_at: str | None = Field(default=None, description="Last push, ISO 8601.")
    archived: bool = False
    fork: bool = False

    def line(self) -> str:
        flags = "".join(f" [{flag}]" for flag in ("archived", "fork") if getattr(self, flag))
        pushed = f", pushed {self.pushed_at[:10]}" if self.pushed_at else ""
        about = f" — {self.description}" if self.description else ""
        language = f", {self.language}" if self.language else ""
        return f"{self.full_name} ★{self.stars} forks {self.forks}{language}{pushed}{flags}{about}"


class RepoList(BaseModel):
    owner: str
    owner_type: str = Field(description="User or Organization.")
    sort: RepoSort
    repos: list[RepoSummary]
    offset: int
    scanned: int = Field(description="Repositories read and sorted.")
    complete: bool = Field(description="False when the owner has more than were scanned.")
    truncated: bool = Field(description="True when more sorted repositories follow.")
    next_offset: int | None = None
    hint: str | None = None

    def render(self) -> str:
        shown = f"{self.offset + 1}-{self.offset + len(self.repos)}" if self.repos else "none"
        lines = [
            f"{self.owner_type} {self.owner}: {self.scanned} repositories by {self.sort}, "
            f"showing {shown}"
        ]
        lines += [f"{self.offset + i + 1}. {repo.line()}" for i, repo in enumerate(self.repos)]
        if not self.complete:
            lines.append(f"(only the {self.scanned} most recently pushed were scanned)")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


def summarize(repo: Repository) -> RepoSummary:
    # Only fields present in list answers: reading another one would fetch each repo again.
    pushed = repo.pushed_at
    return RepoSummary(
        full_name=repo.full_name,
        description=clip_value(repo.description, 200) if repo.description else None,
        stars=repo.stargazers_count or 0,
        forks=repo.forks_count or 0,
        language=repo.language,
        pushed_at=pushed.isoformat() if pushed else None,
        archived=bool(repo.archived),
        fork=bool(repo.fork),
    )


# Largest first; ties keep name order (the sort is stable, reverse included).
_DESCENDING: dict[str, Any] = {
    "stars": lambda r: r.stars,
    "forks": lambda r: r.forks,
    "updated": lambda r: r.pushed_at or "",
}


def list_repos(
    settings: Settings,
    owner: str,
    sort: RepoSort = "stars",
    limit: int = 20,
    offset: int = 0,
    progress: Progress = no_progress,
) -> RepoList:
    """An owner's repositories, sorted over all pages (GitHub itself cannot sort by stars)."""
    owner = parse_owner(owner)
    with open_github(settings) as gh:
        owner_type = account_type(gh, owner)
        pages = _repos_of(gh, owner, owner_type)
        repos: list[RepoSummary] = []
        complete = True
        for repo in pages:
            if len(repos) >= MAX_REPOS_SCANNED:
                complete = False
                break
            repos.append(summarize(repo))
            if len(repos) % 100 == 0:
                progress(len(repos), None, f"read {len(repos)} repositories of {owner}")
    repos.sort(key=lambda r: r.full_name.lower())
    if sort in _DESCENDING:
        repos.sort(key=_DESCENDING[sort], reverse=True)
    window = repos[offset : offset + limit]
    more = offset + len(window) < len(repos)
    next_offset = offset + len(window) if more else None
    hint = (
        f"Call github_list_repos(owner={owner!r}, sort={sort!r}, offset={next_offset}) for more."
        if more
        else None
    )
    return RepoList(
        owner=owner,
        owner_type=owner_type,
        sort=sort,
        repos=window,
        offset=offset,
        scanned=len(repos),
        complete=complete,
        truncated=more,
        next_offset=next_offset,
        hint=hint,
    )


def _repos_of(gh: Github, owner: str, owner_type: str) -> PaginatedList[Repository]:
    # Most recently pushed first, so that a capped scan keeps the repositories in use.
    if owner_type == "Organization":
        return gh.get_organization(owner).get_repos(sort="pushed", direction="desc")
    return gh.get_user(owner).get_repos(sort="pushed", direction="desc")


def account_type(gh: Github, owner: str) -> str:
    try:
        return gh.get_user(owner).type  # GET /users/{owner} answers for orgs too
    except Exception as exc:
        if is_not_found(exc):
            raise NotFoundError(
                f"GitHub has no user or organization {owner!r}. Check the spelling of the login "
                "(the part after github.com/)."
            ) from None
        raise


def open_repo(gh: Github, full_name: str) -> Repository:
    """The repository, fetched; a 404 names similar repositories of the same owner."""
    repo = gh.get_repo(full_name)
    try:
        repo.default_branch  # noqa: B018 -- reading a field fetches the repository
    except Exception as exc:
        if is_not_found(exc):
            raise NotFoundError(missing_repo_message(gh, full_name)) from None
        raise
    return repo


def missing_repo_message(gh: Github, full_name: str) -> str:
    owner, name = full_name.split("/")
    message = f"GitHub has no repository {full_name!r} (or it is private and GITHUB_TOKEN "
    message += "cannot read it)."
    try:
        owner_type = account_type(gh, owner)
    except NotFoundError as exc:
        return f"{message} {exc}"
    except Exception:  # suggestions are a courtesy: never let them hide the 404 itself
        return message
    try:
        repos = _repos_of(gh, owner, owner_type)
        names = [repo.name for repo in itertools.islice(repos, 300)]
    except Exception:
        return message
    similar = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=5, cutoff=0.5)
    by_lower = {n.lower(): n for n in names}
    if similar:
        listed = ", ".join(f"{owner}/{by_lower[s]}" for s in similar)
        return f"{message} Similar repositories of {owner}: {listed}."
    return f"{message} See what {owner} has with github_list_repos(owner={owner!r})."
