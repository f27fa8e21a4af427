"""A fake Hugging Face Hub on 127.0.0.1, driven by the real ``huggingface_hub`` client.

Shapes follow what ``huggingface_hub`` 1.x sends and parses (hf_api.py, file_download.py,
_commit_api.py, utils/_http.py): the JSON of /api/{models,datasets,spaces}, repo info with
``siblings`` and ``safetensors``, /tree and /paths-info entries, HEAD/GET on /resolve with
X-Repo-Commit / ETag / X-Linked-* headers and Range, /api/repos/create, /preupload and the
ndjson /commit, and errors carrying X-Error-Code (RepoNotFound, EntryNotFound, GatedRepo,
RevisionNotFound). Files flagged ``lfs`` redirect to a separate "CDN" server, so a test can
check which host saw the token. Not faked: LFS/Xet uploads (every upload is "regular").
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fakes.loopback import Faults, Recorder, serve

PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FakeRepo:
    repo_id: str
    kind: str
    refs: dict[str, dict[str, bytes]]
    info: dict[str, Any] = field(default_factory=dict)
    private: bool = False
    gated: bool = False
    lfs: set[str] = field(default_factory=set)
    commits: int = 1

    @property
    def sha(self) -> str:
        return hashlib.sha1(f"{self.repo_id}@{self.commits}".encode()).hexdigest()


class Reject(Exception):
    """A Hub-shaped error answer, raised from anywhere inside a handler."""

    def __init__(self, status: int, code: str | None, message: str, **headers: str):
        extra = {"X-Error-Code": code} if code else {}
        headers = {**extra, "X-Error-Message": message, **headers}
        self.response = JSONResponse({"error": message}, status, headers=headers)


class FakeHub:
    """State + ASGI app. ``url`` is set while ``running()`` serves it."""

    def __init__(self, tokens: dict[str, tuple[str, bool]] | None = None):
        self.tokens = tokens or {}  # token -> (user name, may write)
        self.repos: dict[tuple[str, str], FakeRepo] = {}
        self.blobs: dict[str, bytes] = {}  # sha256 -> content, served by the CDN app
        self.url = ""
        self.cdn_url = ""
        self.faults = Faults(self._app())  # failures and stalls injected by tests
        self.recorder = Recorder(self.faults)
        self.cdn_recorder = Recorder(Starlette(routes=[Route("/blob/{oid}", self._cdn_blob)]))

    # --- test helpers -----------------------------------------------------------------
    def add_repo(
        self,
        repo_id: str,
        kind: str = "model",
        files: dict[str, bytes | str] | None = None,
        *,
        lfs: tuple[str, ...] = (),
        private: bool = False,
        gated: bool = False,
        **info: Any,
    ) -> FakeRepo:
        """A repository whose main branch holds ``files``; ``info`` adds Hub fields (likes...)."""
        main = {k: v.encode() if isinstance(v, str) else v for k, v in (files or {}).items()}
        repo = FakeRepo(repo_id, kind, {"main": main}, info, private, gated, set(lfs))
        self.repos[(kind, repo_id)] = repo
        return repo

    def fail(self, prefix: str, status: int, *, times: int = 1, **headers: str) -> None:
        self.faults.fail(prefix, status, times=times, headers=headers)

    def stall(self, prefix: str, seconds: float, *, times: int = 1) -> None:
        self.faults.stall(prefix, seconds, times=times)

    @contextlib.contextmanager
    def running(self) -> Iterator[FakeHub]:
        with serve(self.recorder) as url, serve(self.cdn_recorder) as cdn:
            # Another host name, as a real CDN has: clients treat same-host redirects as the Hub.
            self.url, self.cdn_url = url, cdn.replace("127.0.0.1", "localhost")
            yield self

    def _app(self) -> Any:
        routes = [
            Route("/api/whoami-v2", self._whoami),
            Route("/api/validate-yaml", lambda _: JSONResponse({"errors": []}), methods=["POST"]),
            Route("/api/repos/create", self._create, methods=["POST"]),
            Route("/api/{kinds}", self._list),
            Route("/api/{kinds}/{rest:path}", self._repo_api, methods=["GET", "POST"]),
            Route("/{rest:path}", self._resolve, methods=["GET", "HEAD"]),
        ]
        handlers = {Reject: lambda _, exc: exc.response}
        return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]

    def _user(self, request: Request) -> tuple[str | None, bool]:
        header = request.headers.get("authorization", "")
        if not header:
            return (None, False)
        token = header.removeprefix("Bearer ").strip()
        if token not in self.tokens:
            raise Reject(401, None, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def _find(self, kind: str, rest: str) -> tuple[FakeRepo | None, str]:
        parts = rest.split("/")  # every fake repo id is "namespace/name"
        return self.repos.get((kind, "/".join(parts[:2]))), "/".join(parts[2:])

    def _visible(self, repo: FakeRepo | None, user: str | None) -> FakeRepo:
        if repo is None or (repo.private and repo.repo_id.split("/")[0] != user):
            # Like the Hub: 401 without a token, 404 with one; the same code either way.
            raise Reject(401 if user is None else 404, "RepoNotFound", "Repository not found")
        return repo

    @staticmethod
    def _ref(repo: FakeRepo, revision: str) -> dict[str, bytes]:
        files = repo.refs.get(unquote(revision))
        if files is None:
            raise Reject(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return files

    def _entry(self, repo: FakeRepo, path: str, data: bytes) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "file", "oid": git_blob_oid(data), "size": len(data)}
        entry["path"] = path
        if path in repo.lfs:
            entry["lfs"] = {"oid": sha256(data), "size": len(data), "pointerSize": 134}
        return entry

    # --- read endpoints ----------------------------------------------------------------
    async def _whoami(self, request: Request) -> Response:
        user = self._user(request)
        if user[0] is None:
            raise Reject(401, None, "Invalid credentials in Authorization header")
        return JSONResponse({"type": "user", "name": user[0], "orgs": []})

    async def _list(self, request: Request) -> Response:
        kind = request.path_params["kinds"].rstrip("s")
        self._user(request)  # an invalid token is refused even where none is required
        params = request.query_params
        words = [w.lower() for w in params.getlist("search")]
        filters = params.getlist("filter")
        rows = [
            self._summary(r)
            for (k, _), r in self.repos.items()
            if k == kind
            and not r.private
            and all(w in r.repo_id.lower() for w in words)
            and (not params.get("author") or r.repo_id.split("/")[0] == params["author"])
            and all(f in self._summary(r)["tags"] for f in filters)
        ]
        sort = params.get("sort")
        if sort:
            rows.sort(key=lambda row: row.get(sort) or 0, reverse=True)
        return JSONResponse(rows[: int(params.get("limit", 1000))])

    def _summary(self, repo: FakeRepo) -> dict[str, Any]:
        extra = (repo.info.get("pipeline_tag"), repo.info.get("library_name"))
        tags = list(repo.info.get("tags", [])) + [t for t in extra if t]
        shown = ("downloads", "likes", "trendingScore", "pipeline_tag", "library_name")
        return {
            **{key: repo.info.get(key) for key in shown},
            **{"id": repo.repo_id, "author": repo.repo_id.split("/")[0], "tags": tags},
            **{"private": repo.private, "gated": "auto" if repo.gated else False},
            "createdAt": repo.info.get("createdAt", "2024-01-02T03:04:05.000Z"),
        }

    async def _repo_api(self, request: Request) -> Response:
        kind = request.path_params["kinds"].rstrip("s")
        user = self._user(request)
        found, action = self._find(kind, request.path_params["rest"])
        repo = self._visible(found, user[0])
        verb, _, tail = action.partition("/")
        if request.method == "GET" and verb in ("", "revision"):
            return self._info(repo, tail if verb == "revision" else "main", request)
        if request.method == "GET" and verb == "tree":
            revision, _, folder = tail.partition("/")
            return self._tree(
                repo, revision, folder, request.query_params.get("recursive", "").lower() == "true"
            )
        if request.method == "POST" and verb == "paths-info":
            form = await request.form()
            return self._paths_info(repo, tail, [str(p) for p in form.getlist("paths")])
        if request.method == "POST" and verb in ("preupload", "commit"):
            if user[0] is None or not user[1]:
                raise Reject(403 if user[0] else 401, None, "You don't have write access")
            if verb == "preupload":
                return self._preupload(repo, tail, await request.json())
            return self._commit(repo, tail, await request.body(), request.query_params)
        raise Reject(404, None, f"unknown endpoint {action}")

    def _info(self, repo: FakeRepo, revision: str, request: Request) -> Response:
        files = self._ref(repo, revision)
        blobs = request.query_params.get("blobs", "").lower() == "true"
        siblings = []
        for path, data in sorted(files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=len(data), blobId=git_blob_oid(data))
                if path in repo.lfs:
                    sibling["lfs"] = {"size": len(data), "sha256": sha256(data), "pointerSize": 134}
            siblings.append(sibling)
        body = {**self._summary(repo), "sha": repo.sha, "siblings": siblings}
        for key in ("cardData", "safetensors", "sdk"):
            if key in repo.info:
                body[key] = repo.info[key]
        return JSONResponse(body)

    def _tree(self, repo: FakeRepo, revision: str, folder: str, recursive: bool) -> Response:
        files = self._ref(repo, revision)
        folder = unquote(folder).strip("/")
        prefix = f"{folder}/" if folder else ""
        inside = {p: d for p, d in files.items() if p.startswith(prefix)}
        if folder and not inside:
            raise Reject(404, "EntryNotFound", f"{folder} does not exist on {revision}")
        entries: dict[str, dict[str, Any]] = {}
        for path, data in sorted(inside.items()):
            rest = path[len(prefix) :]
            if recursive or "/" not in rest:
                entries[path] = self._entry(repo, path, data)
            head = rest.split("/")[:-1]
            for depth in range(1, len(head) + 1 if recursive else min(len(head), 1) + 1):
                sub = prefix + "/".join(head[:depth])
                entries.setdefault(sub, _folder(sub))
        return JSONResponse(
            sorted(entries.values(), key=lambda e: (e["type"] != "directory", e["path"]))
        )

    def _paths_info(self, repo: FakeRepo, revision: str, paths: list[str]) -> Response:
        files = self._ref(repo, revision)
        found = []
        for path in paths:
            if path in files:
                found.append(self._entry(repo, path, files[path]))
            elif any(p.startswith(path.rstrip("/") + "/") for p in files):
                found.append(_folder(path))
        return JSONResponse(found)

    async def _resolve(self, request: Request) -> Response:
        raw = request.scope["raw_path"].decode()
        kind = next((k for k, p in PREFIX.items() if p and raw.startswith("/" + p)), "model")
        head, sep, tail = raw[1 + len(PREFIX[kind]) :].partition("/resolve/")
        user = self._user(request)
        if not sep:
            raise Reject(404, None, "Not Found")
        repo = self._visible(self.repos.get((kind, unquote(head))), user[0])
        revision, _, path = tail.partition("/")
        files = self._ref(repo, revision)
        if repo.gated and user[0] is None:
            raise Reject(401, "GatedRepo", "Access to this repo is restricted")
        path = unquote(path)
        if path not in files:
            raise Reject(404, "EntryNotFound", "Entry not found", **{"X-Repo-Commit": repo.sha})
        data = files[path]
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{git_blob_oid(data)}"'}
        if path in repo.lfs and self.cdn_url:
            # Like the Hub: LFS content lives elsewhere; the redirect itself carries the metadata.
            oid = sha256(data)
            self.blobs[oid] = data
            headers["Location"] = f"{self.cdn_url}/blob/{oid}"
            headers["X-Linked-Size"] = str(len(data))
            headers["X-Linked-Etag"] = f'"{oid}"'
            return Response(status_code=302, headers=headers)
        return _ranged(request, data, headers)

    async def _cdn_blob(self, request: Request) -> Response:
        data = self.blobs.get(request.path_params["oid"])
        if data is None:
            return Response("no such blob", 404)
        return _ranged(request, data, {"ETag": f'"{request.path_params["oid"]}"'})

    # --- write endpoints ---------------------------------------------------------------
    async def _create(self, request: Request) -> Response:
        user = self._user(request)
        if user[0] is None:
            raise Reject(401, None, "You must be authenticated")
        body = await request.json()
        namespace = body.get("organization") or user[0]
        if namespace != user[0] or not user[1]:
            raise Reject(403, None, f"You don't have the rights to create a repo under {namespace}")
        kind = body.get("type") or "model"
        repo_id = f"{namespace}/{body['name']}"
        url = f"{self.url}/{PREFIX[kind]}{repo_id}"
        if (kind, repo_id) in self.repos:
            return JSONResponse({"error": "You already created this repo", "url": url}, 409)
        private = body.get("visibility") == "private"
        info = {"sdk": body["sdk"]} if "sdk" in body else {}
        self.add_repo(repo_id, kind, {".gitattributes": "*.bin lfs\n"}, private=private, **info)
        return JSONResponse({"url": url, "name": repo_id})

    def _preupload(self, repo: FakeRepo, revision: str, body: dict[str, Any]) -> Response:
        files = repo.refs.get(unquote(revision), {})
        # The git oid of the current file lets the client skip unchanged files, as on the Hub.
        oids = {
            f["path"]: git_blob_oid(files[f["path"]]) for f in body["files"] if f["path"] in files
        }
        modes = [
            {
                "path": f["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": oids.get(f["path"]),
            }
            for f in body["files"]
        ]
        return JSONResponse({"files": modes, "commitOid": repo.sha})

    def _commit(self, repo: FakeRepo, revision: str, body: bytes, params: Any) -> Response:
        base = self._ref(repo, revision)
        files = dict(base)
        for line in body.decode().splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "deletedFile":
                if value["path"] not in files:
                    raise Reject(404, "EntryNotFound", "A file with this name doesn't exist")
                del files[value["path"]]
            elif item["key"] == "deletedFolder":
                files = {
                    p: d
                    for p, d in files.items()
                    if not p.startswith(value["path"].rstrip("/") + "/")
                }
            elif item["key"] != "header":
                raise Reject(400, None, f"operation {item['key']} is not supported by this fake")
        repo.commits += 1
        base_url = f"{self.url}/{PREFIX[repo.kind]}{repo.repo_id}"
        pr_url = None
        if params.get("create_pr") == "1":
            number = sum(1 for ref in repo.refs if ref.startswith("refs/pr/")) + 1
            repo.refs[f"refs/pr/{number}"] = files
            pr_url = f"{base_url}/discussions/{number}"
        else:
            repo.refs[unquote(revision)] = files
        commit_url = f"{base_url}/commit/{repo.sha}"
        return JSONResponse(
            {"commitOid": repo.sha, "commitUrl": commit_url, "pullRequestUrl": pr_url}
        )


def _folder(path: str) -> dict[str, Any]:
    return {"type": "directory", "oid": sha256(path.encode())[:40], "size": 0, "path": path}


def _ranged(request: Request, data: bytes, headers: dict[str, str]) -> Response:
    status, spec = 200, request.headers.get("range", "")
    if spec.startswith("bytes="):
        start_text, _, end_text = spec[6:].partition("-")
        start, end = int(start_text or 0), min(int(end_text or len(data) - 1), len(data) - 1)
        headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
        status, data = 206, data[start : end + 1]
    body = data if request.method != "HEAD" else b""
    return Response(body, status, headers={**headers, "Content-Length": str(len(data))})
