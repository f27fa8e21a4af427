"""A loopback fake of the GitHub REST API endpoints that toolkits/github calls, driven by PyGithub.

Shapes follow docs.github.com/en/rest (users, orgs, repos, git trees and blobs, contents, code
search, rate-limit headers, Link pagination) and what PyGithub parses. Tests script failures per
path (rate limits, 5xx, slow answers) and read back every request received.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import shlex
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

PRIMARY_RATE_LIMIT = (
    "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests "
    "get a higher rate limit. Check out the documentation for more details.)"
)
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
DOCS = "https://docs.github.com/rest"
QUALIFIERS = ("repo", "org", "user", "language", "path")
EXTENSIONS = {"python": ".py", "jupyter notebook": ".ipynb", "shell": ".sh", "markdown": ".md"}

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class FakeRepo:
    full_name: str
    files: dict[str, bytes] = field(default_factory=dict)
    stars: int = 0
    forks: int = 0
    description: str | None = None
    language: str | None = "Python"
    pushed_at: str = "2024-01-01T00:00:00Z"
    default_branch: str = "main"
    private: bool = False
    archived: bool = False
    topics: list[str] = field(default_factory=list)
    refs: dict[str, dict[str, bytes]] = field(default_factory=dict)  # other branches/tags

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    def files_at(self, ref: str | None) -> dict[str, bytes] | None:
        if ref in self.refs:
            return self.refs[ref]
        return self.files if ref in (None, "", self.default_branch, tree_sha(self.files)) else None


@dataclass
class Scripted:  # the answer to the next ``times`` requests under ``path_prefix``
    path_prefix: str
    status: int | None  # None: answer normally, after ``delay_s``
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    delay_s: float = 0.0


SeenRequest = namedtuple("SeenRequest", "path query authorization accept")


def blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def tree_sha(files: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(sorted(files)).encode()).hexdigest()


def wrapped_base64(content: bytes) -> str:
    """Base64 with a newline every 60 characters, as the contents and blobs APIs send it."""
    encoded = base64.b64encode(content).decode()
    return "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"


def error(message: str = "Not Found", **extra: Any) -> dict[str, Any]:
    return {"message": message, "documentation_url": DOCS, **extra}


class FakeGitHub:
    """``with FakeGitHub(token=...) as fake:`` serves on ``fake.url``. Only ``token`` is accepted;
    requests without one are anonymous (public data, no code search), others get 401."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.owners: dict[str, str] = {}  # login -> "User" | "Organization"
        self.repos: dict[str, FakeRepo] = {}  # lower-cased full name -> repo
        self.scripted: list[Scripted] = []
        self.requests: list[SeenRequest] = []
        self.inline_limit = 1024 * 1024  # the contents API inlines files up to 1 MB
        self.tree_truncated = False
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_repo(self, full_name: str, files: Mapping | None = None, **fields: Any) -> FakeRepo:
        def encoded(files: Mapping[str, str | bytes]) -> dict[str, bytes]:
            return {p: c.encode() if isinstance(c, str) else c for p, c in files.items()}

        refs = {ref: encoded(tree) for ref, tree in fields.pop("refs", {}).items()}
        repo = FakeRepo(full_name, encoded(files or {}), refs=refs, **fields)
        self.owners.setdefault(repo.owner, "User")
        self.repos[full_name.lower()] = repo
        return repo

    def fail(self, prefix: str, status: int, message: str, times: int = 1, **headers: str) -> None:
        """Answer ``status`` with GitHub's error body; header names use '_' for '-'."""
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        self.scripted.append(Scripted(prefix, status, error(message), named, times))

    def slow(self, path_prefix: str, delay_s: float, times: int = 1) -> None:
        self.scripted.append(Scripted(path_prefix, None, times=times, delay_s=delay_s))

    def paths_requested(self, prefix: str = "") -> list[str]:
        return [seen.path for seen in self.requests if seen.path.startswith(prefix)]

    def __enter__(self) -> FakeGitHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, target: str, headers: dict[str, str]) -> Answer:
        parts = urlsplit(target)
        path, query = unquote(parts.path), dict(parse_qsl(parts.query))
        authorization = headers.get("authorization")
        with self._lock:
            self.requests.append(SeenRequest(path, query, authorization, headers.get("accept")))
            script = next((s for s in self.scripted if path.startswith(s.path_prefix)), None)
            if script is not None:
                script.times -= 1
                if script.times <= 0:
                    self.scripted.remove(script)
        if script is not None:
            time.sleep(script.delay_s)
            if script.status is not None:
                return script.status, script.body, script.headers
        if authorization is not None and authorization != f"token {self.token}":
            return 401, error("Bad credentials"), {}
        return _Router(self, authed=authorization is not None).route(path, query, headers)


class _Router:
    def __init__(self, fake: FakeGitHub, authed: bool) -> None:
        self.fake, self.authed, self.base = fake, authed, fake.url

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        match path.strip("/").split("/"):
            case ["users" | "orgs" as kind, login]:
                return self.owner(kind, login)
            case ["users" | "orgs" as kind, login, "repos"]:
                return self.list_repos(kind, login, query)
            case ["repos", owner, name]:
                return self.with_repo(owner, name, lambda repo: (200, self.repo_json(repo), {}))
            case ["repos", owner, name, "git", "trees", *ref]:
                return self.with_repo(owner, name, lambda r: self.tree(r, "/".join(ref), query))
            case ["repos", owner, name, "git", "blobs", sha]:
                return self.with_repo(owner, name, lambda repo: self.blob(repo, sha))
            case ["repos", owner, name, "contents", *rest]:
                return self.with_repo(
                    owner, name, lambda r: self.contents(r, "/".join(rest), query)
                )
            case ["search", "code"]:
                return self.search_code(query, headers.get("accept") or "")
        return 404, error(), {}

    # --- users, orgs, repos ---------------------------------------------------------------
    def owner_json(self, login: str) -> dict[str, Any]:
        kind = self.fake.owners.get(login, "User")
        url = f"{self.base}/{'orgs' if kind == 'Organization' else 'users'}/{login}"
        return {"login": login, "type": kind, "url": url}

    def owner(self, kind: str, login: str) -> Answer:
        known = self.fake.owners.get(login)
        if known is None or (kind == "orgs" and known != "Organization"):
            return 404, error(), {}
        return 200, self.owner_json(login), {}

    def visible(self, repo: FakeRepo) -> bool:
        return self.authed or not repo.private

    def with_repo(self, owner: str, name: str, answer: Callable[[FakeRepo], Answer]) -> Answer:
        repo = self.fake.repos.get(f"{owner}/{name}".lower())
        if repo is None or not self.visible(repo):
            return 404, error(), {}
        return answer(repo)

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        return {
            "id": sum(map(ord, repo.full_name)),
            "name": repo.full_name.split("/")[1],
            "full_name": repo.full_name,
            "owner": self.owner_json(repo.owner),
            "private": repo.private,
            "html_url": f"https://github.com/{repo.full_name}",
            "description": repo.description,
            "fork": False,
            "url": f"{self.base}/repos/{repo.full_name}",
            "pushed_at": repo.pushed_at,
            "stargazers_count": repo.stars,
            "forks_count": repo.forks,
            "language": repo.language,
            "archived": repo.archived,
            "topics": repo.topics,
            "default_branch": repo.default_branch,
        }

    def list_repos(self, kind: str, login: str, query: dict[str, str]) -> Answer:
        if (found := self.owner(kind, login))[0] != 200:
            return found
        repos = [r for r in self.fake.repos.values() if r.owner == login and self.visible(r)]
        by_date = query.get("sort") in ("updated", "pushed")  # else full_name
        direction = query.get("direction", "desc" if by_date else "asc")
        key = "pushed_at" if by_date else "full_name"
        repos.sort(key=lambda r: getattr(r, key).lower(), reverse=direction == "desc")
        per_page, page = min(int(query.get("per_page", 30)), 100), int(query.get("page", 1))
        last = max(1, -(-len(repos) // per_page))
        links = {}
        if page < last:  # GitHub also sends first/prev; PyGithub follows only next
            url = f"{self.base}/{kind}/{login}/repos?"
            links["Link"] = (
                f'<{url}{urlencode({**query, "page": page + 1})}>; rel="next", '
                f'<{url}{urlencode({**query, "page": last})}>; rel="last"'
            )
        window = repos[(page - 1) * per_page : page * per_page]
        return 200, [self.repo_json(r) for r in window], links

    # --- git data and contents -------------------------------------------------------------
    def tree(self, repo: FakeRepo, ref: str, query: dict[str, str]) -> Answer:
        files = repo.files_at(ref)
        if files is None:
            return 404, error(), {}
        recursive = query.get("recursive") not in (None, "", "0", "false")
        api = f"{self.base}/repos/{repo.full_name}/git"
        folders = {p.rsplit("/", 1)[0] for p in files if "/" in p}
        folders |= {f.rsplit("/", i)[0] for f in folders for i in range(f.count("/") + 1)}
        tree = []
        for path in sorted(folders | set(files)):
            if not recursive and "/" in path:
                continue
            if path in files:
                sha, entry = blob_sha(files[path]), {"type": "blob", "size": len(files[path])}
            else:
                sha, entry = tree_sha({path: 0}), {"type": "tree"}
            url = f"{api}/{entry['type']}s/{sha}"
            mode = "100644" if path in files else "040000"
            tree.append({**entry, "path": path, "sha": sha, "url": url, "mode": mode})
        sha = tree_sha(files)
        body = {"sha": sha, "url": f"{api}/trees/{sha}", "tree": tree}
        return 200, {**body, "truncated": self.fake.tree_truncated}, {}

    def blob(self, repo: FakeRepo, sha: str) -> Answer:
        every = [c for files in (repo.files, *repo.refs.values()) for c in files.values()]
        content = next((c for c in every if blob_sha(c) == sha), None)
        if content is None:
            return 404, error(), {}
        url = f"{self.base}/repos/{repo.full_name}/git/blobs/{sha}"
        body = {"sha": sha, "size": len(content), "url": url, "encoding": "base64"}
        return 200, {**body, "content": wrapped_base64(content)}, {}

    def content_json(
        self, repo: FakeRepo, path: str, content: bytes | None, ref: str, listing=False
    ):
        api = f"{self.base}/repos/{repo.full_name}"
        entry: dict[str, Any] = {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "url": f"{api}/contents/{path}?ref={ref}",
            "html_url": f"https://github.com/{repo.full_name}/blob/{ref}/{path}",
        }
        if content is None:
            return {**entry, "type": "dir", "sha": tree_sha({path: 0}), "size": 0}
        entry |= {"type": "file", "sha": blob_sha(content), "size": len(content)}
        entry["download_url"] = f"https://raw.githubusercontent.com/{repo.full_name}/{ref}/{path}"
        if listing:  # directory listings carry no content
            return entry
        inline = len(content) <= self.fake.inline_limit  # bigger files: content "" + "none"
        encoded = wrapped_base64(content) if inline else ""
        return entry | {"encoding": "base64" if inline else "none", "content": encoded}

    def contents(self, repo: FakeRepo, path: str, query: dict[str, str]) -> Answer:
        ref = query.get("ref") or repo.default_branch
        files = repo.files_at(ref)
        if files is None:
            return 404, error(f"No commit found for the ref {ref}"), {}
        path = path.strip("/")
        if path in files:
            return 200, self.content_json(repo, path, files[path], ref), {}
        prefix = f"{path}/" if path else ""
        children = sorted({p[len(prefix) :].split("/")[0] for p in files if p.startswith(prefix)})
        if not children:
            return 404, error(), {}
        entries = [(prefix + child, files.get(prefix + child)) for child in children]
        listing = [self.content_json(repo, path, content, ref, True) for path, content in entries]
        return 200, listing, {}

    # --- code search ------------------------------------------------------------------------
    def search_code(self, query: dict[str, str], accept: str) -> Answer:
        if not self.authed:
            return 401, error("Requires authentication"), {}
        words = [(word, *word.partition(":")) for word in shlex.split(query.get("q", ""))]
        scope = [(key, value) for _, key, _, value in words if value and key in QUALIFIERS]
        terms = [word for word, key, _, value in words if not (value and key in QUALIFIERS)]
        if not terms:
            problem = [{"message": "The search query must include at least one term"}]
            return 422, error("Validation Failed", errors=problem), {}
        per_page, page = min(int(query.get("per_page", 30)), 100), int(query.get("page", 1))
        if page * per_page > 1000:  # code search answers only for the first 1000 hits
            return 422, error("Only the first 1000 search results are available"), {}
        hits = []
        for repo in sorted(self.fake.repos.values(), key=lambda r: (-r.stars, r.full_name)):
            for path, content in sorted((repo.files_at(None) or {}).items()):
                text = content.decode("utf-8", "replace").lower()
                in_scope = all(_in_scope(repo, path, key, value) for key, value in scope)
                if in_scope and self.visible(repo) and all(t.lower() in text for t in terms):
                    hits.append(self.search_item(repo, path, content, terms[0], accept))
        window = hits[(page - 1) * per_page : page * per_page]
        return 200, {"total_count": len(hits), "incomplete_results": False, "items": window}, {}

    def search_item(self, repo: FakeRepo, path: str, content: bytes, term: str, accept: str):
        summary = ("id", "name", "full_name", "owner", "private", "html_url", "url")
        item: dict[str, Any] = {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": blob_sha(content),
            "url": f"{self.base}/repos/{repo.full_name}/contents/{path}",
            "html_url": f"https://github.com/{repo.full_name}/blob/main/{path}",
            "repository": {k: v for k, v in self.repo_json(repo).items() if k in summary},
            "score": 1.0,
        }
        if "text-match" in accept:  # GitHub adds fragments only for this media type
            line = next(x for x in content.decode().splitlines() if term.lower() in x.lower())
            start = line.lower().index(term.lower())
            match = {"text": line[start : start + len(term)], "indices": [start, start + len(term)]}
            fragment = {"object_type": "FileContent", "property": "content", "fragment": line}
            item["text_matches"] = [{**fragment, "object_url": item["url"], "matches": [match]}]
        return item


def _in_scope(repo: FakeRepo, path: str, key: str, value: str) -> bool:
    value = value.lower()
    if key == "repo":
        return value == repo.full_name.lower()
    if key in ("org", "user"):
        return value == repo.owner.lower()
    if key == "path":
        return path.startswith(value.strip("/"))
    return path.endswith(EXTENSIONS.get(value, f".{value}"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGitHub

    def handle_error(self, *args: Any) -> None:
        pass  # a client that timed out hung up before a slow answer: that is the test


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        headers = {key.lower(): value for key, value in self.headers.items()}
        fake = self.server.fake
        status, body, extra = fake.handle(self.path, headers)
        payload = json.dumps(body).encode()
        limit = 5000 if "authorization" in headers else 60
        left, reset = max(0, limit - len(fake.requests)), int(time.time()) + 3600
        rate = {"X-RateLimit-Limit": f"{limit}", "X-RateLimit-Remaining": f"{left}"}
        rate["X-RateLimit-Reset"] = f"{reset}"
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in {**rate, **extra}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass
