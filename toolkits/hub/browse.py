"""Read-only Hub operations over the official ``huggingface_hub`` client (no MCP here): search,
repository details, file listings and contents. Client calls go through ``_hf.calls.call_hub``."""

from __future__ import annotations

import difflib
import re
import tempfile
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from server.errors import NotFoundError, UserError
from server.output_caps import clip_value, page_text
from server.settings import Settings
from server.untrusted import strip_invisible, without_html_comments
from toolkits._hf.calls import call_hub
from toolkits._hf.client import hub_api, repo_url
from toolkits._hf.suggestions import missing_repo_message, repo_lister
from toolkits.hub.models import (
    FileContent,
    FileListing,
    Kind,
    RepoEntry,
    RepoInfo,
    RepoSummary,
    SearchResults,
)

MAX_TAGS = 30
MAX_READ_BYTES = 8 * 1024 * 1024
CARD_SUMMARY_CHARS = 1500
# Weights, archives, media and columnar data: never text, and often huge.
BINARY_SUFFIXES = frozenset(
    ".safetensors .bin .pt .pth .ckpt .onnx .gguf .h5 .msgpack .npy .npz .pkl .pickle .model "
    ".parquet .arrow .feather .zip .gz .tgz .tar .zst .xz .bz2 .7z .png .jpg .jpeg .gif .webp "
    ".bmp .ico .mp3 .wav .flac .ogg .mp4 .webm .mov .pdf .so .dylib .dll .exe .db .sqlite".split()
)
SORT_FIELDS = {
    "downloads": "downloads",
    "likes": "likes",
    "trending": "trending_score",
    "created": "created_at",
    "modified": "last_modified",
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(item: Any, kind: Kind) -> RepoSummary:
    return RepoSummary(
        id=item.id,
        kind=kind,
        downloads=getattr(item, "downloads", None),
        likes=getattr(item, "likes", None),
        pipeline_tag=getattr(item, "pipeline_tag", None),
        library=getattr(item, "library_name", None),
        tags=list(getattr(item, "tags", None) or [])[:12],
        private=getattr(item, "private", None),
        gated=getattr(item, "gated", None),
        created_at=_iso(getattr(item, "created_at", None)),
        last_modified=_iso(getattr(item, "last_modified", None)),
    )


def search(
    settings: Settings,
    *,
    query: str = "",
    kind: Kind = "model",
    author: str | None = None,
    filters: list[str] | None = None,
    sort: str = "downloads",
    limit: int = 10,
    offset: int = 0,
) -> SearchResults:
    """One page of Hub search results; UserError on a bad sort or a Hub failure."""
    if kind == "space" and sort == "downloads":
        raise UserError(
            "Spaces have no download counts: sort spaces by likes, trending, created or modified."
        )
    api = hub_api(settings)
    wanted = offset + limit + 1  # one extra tells whether another page exists

    def run() -> list[Any]:
        items = repo_lister(api, kind)(
            search=query or None,
            author=author or None,
            filter=filters or None,
            sort=SORT_FIELDS[sort],
            limit=wanted,
        )
        return list(islice(items, wanted))

    items = call_hub(settings, run, what=f"searching {kind}s for {query!r}")
    page = items[offset : offset + limit]
    more = len(items) > offset + limit
    next_offset = offset + limit if more else None
    hint = None
    if more:
        hint = f"More results: call hub_search with the same arguments and offset={next_offset}."
    return SearchResults(
        query=query,
        kind=kind,
        results=[_summary(item, kind) for item in page],
        offset=offset,
        truncated=more,
        next_offset=next_offset,
        hint=hint,
    )


def repo_info(
    settings: Settings, *, repo_id: str, kind: Kind = "model", revision: str | None = None
) -> RepoInfo:
    """Card summary, license, lineage, size, parameters; NotFoundError if missing."""
    api = hub_api(settings)
    info: Any = call_hub(
        settings,
        lambda: api.repo_info(repo_id, repo_type=kind, revision=revision, files_metadata=True),
        what=f"reading {kind} {repo_id}",
        not_found=lambda: missing_repo_message(settings, repo_id, kind),
    )
    siblings = list(info.siblings or [])
    filenames = [s.rfilename for s in siblings]
    card = info.card_data
    tags = list(info.tags or [])
    parameters, by_dtype = _parameter_count(settings, api, info, kind, revision, filenames)
    sizes = [s.size for s in siblings if s.size is not None]
    return RepoInfo(
        id=info.id,
        kind=kind,
        url=repo_url(settings, info.id, kind),
        author=getattr(info, "author", None),
        sha=info.sha,
        private=info.private,
        gated=getattr(info, "gated", None),
        downloads=getattr(info, "downloads", None),
        likes=getattr(info, "likes", None),
        license=_license(card, tags),
        pipeline_tag=getattr(info, "pipeline_tag", None),
        library=getattr(info, "library_name", None),
        tags=tags[:MAX_TAGS],
        parameters=parameters,
        parameters_by_dtype=by_dtype,
        size_bytes=sum(sizes) if sizes else None,
        file_count=len(siblings) if info.siblings is not None else None,
        files_sample=filenames[:15],
        base_models=_card_list(card, "base_model"),
        datasets=_card_list(card, "datasets"),
        sdk=getattr(info, "sdk", None),
        created_at=_iso(getattr(info, "created_at", None)),
        last_modified=_iso(getattr(info, "last_modified", None)),
        card_summary=_card_summary(settings, api, repo_id, kind, revision, filenames),
    )


def _license(card: Any, tags: list[str]) -> str | None:
    value = getattr(card, "license", None) if card is not None else None
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    if value:
        return str(value)
    return next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)


def _card_list(card: Any, field: str) -> list[str]:
    value = getattr(card, field, None) if card is not None else None
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])][:10]


def _parameter_count(
    settings: Settings, api: Any, info: Any, kind: str, revision: str | None, filenames: list[str]
) -> tuple[int | None, dict[str, int]]:
    """The Hub's safetensors summary; else read the safetensors headers (a few KB each)."""
    from huggingface_hub.errors import HfHubHTTPError, NotASafetensorsRepoError

    summary = getattr(info, "safetensors", None)
    if summary:
        return summary.total, dict(summary.parameters)
    if kind != "model" or not any(f.endswith(".safetensors") for f in filenames):
        return None, {}
    try:
        meta = call_hub(
            settings,
            lambda: api.get_safetensors_metadata(info.id, revision=revision),
            what=f"reading safetensors headers of {info.id}",
        )
    except (UserError, HfHubHTTPError, NotASafetensorsRepoError):
        return None, {}
    counts = dict(meta.parameter_count)
    return sum(counts.values()), counts


def _card_summary(
    settings: Settings,
    api: Any,
    repo_id: str,
    kind: str,
    revision: str | None,
    filenames: list[str],
) -> str | None:
    if "README.md" not in filenames:
        return None
    try:
        text = _download_text(settings, api, repo_id, "README.md", kind, revision, MAX_READ_BYTES)
    except UserError:
        return None  # a card we cannot read is not a reason to fail the whole lookup
    body = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL).strip()
    body = without_html_comments(body)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return clip_value(body, CARD_SUMMARY_CHARS) if body else None


def _download_text(
    settings: Settings,
    api: Any,
    repo_id: str,
    path: str,
    kind: str,
    revision: str | None,
    limit: int,
) -> str:
    data = _download_bytes(settings, api, repo_id, path, kind, revision)
    return data[:limit].decode("utf-8", errors="replace")


def _download_bytes(
    settings: Settings, api: Any, repo_id: str, path: str, kind: str, revision: str | None
) -> bytes:
    # A throwaway cache: reading a file through a tool must not grow a disk cache forever.
    with tempfile.TemporaryDirectory(prefix="mlintern-hub-") as tmp:
        local = call_hub(
            settings,
            lambda: api.hf_hub_download(
                repo_id, path, repo_type=kind, revision=revision, cache_dir=tmp
            ),
            what=f"downloading {path} from {repo_id}",
            not_found=lambda: missing_repo_message(settings, repo_id, kind),
        )
        return Path(local).read_bytes()


def list_files(
    settings: Settings,
    *,
    repo_id: str,
    kind: Kind = "model",
    path: str = "",
    revision: str | None = None,
    recursive: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> FileListing:
    """One page of a repository's files; NotFoundError for a missing repo or folder."""
    from huggingface_hub import RepoFolder

    api = hub_api(settings)
    folder = path.strip("/")
    wanted = offset + limit + 1

    def run() -> list[Any]:
        tree = api.list_repo_tree(
            repo_id,
            path_in_repo=folder or None,
            recursive=recursive,
            revision=revision,
            repo_type=kind,
        )
        return list(islice(tree, wanted))

    items = call_hub(
        settings,
        run,
        what=f"listing {folder or 'the root'} of {kind} {repo_id}",
        not_found=lambda: missing_repo_message(settings, repo_id, kind),
    )
    page = items[offset : offset + limit]
    more = len(items) > offset + limit
    next_offset = offset + limit if more else None
    entries = [
        RepoEntry(path=i.path, type="folder")
        if isinstance(i, RepoFolder)
        else RepoEntry(path=i.path, type="file", size=i.size, lfs=i.lfs is not None)
        for i in page
    ]
    return FileListing(
        repo_id=repo_id,
        kind=kind,
        revision=revision or "main",
        path=folder,
        entries=entries,
        offset=offset,
        truncated=more,
        next_offset=next_offset,
        hint=f"More entries: call hub_repo(op='list') with offset={next_offset}." if more else None,
    )


def read_file(
    settings: Settings,
    *,
    repo_id: str,
    path: str,
    kind: Kind = "model",
    revision: str | None = None,
    offset: int = 0,
    max_chars: int = 10_000,
) -> FileContent:
    """A window of a text file; NotFoundError if missing, UserError if a folder or too big."""
    from huggingface_hub import RepoFolder

    api = hub_api(settings)
    path = path.strip("/")
    found = call_hub(
        settings,
        lambda: api.get_paths_info(repo_id, [path], revision=revision, repo_type=kind),
        what=f"looking up {path} in {kind} {repo_id}",
        not_found=lambda: missing_repo_message(settings, repo_id, kind),
    )
    if not found:
        raise NotFoundError(_missing_file_message(settings, api, repo_id, path, kind, revision))
    entry = found[0]
    if isinstance(entry, RepoFolder):
        raise UserError(
            f"{path!r} is a folder. List it with hub_repo(repo_id={repo_id!r}, op='list', path={path!r})."
        )
    base = {"repo_id": repo_id, "kind": kind, "path": path, "revision": revision or "main"}
    if Path(path).suffix.lower() in BINARY_SUFFIXES:
        return _binary(base, entry.size)
    if entry.size is not None and entry.size > MAX_READ_BYTES:
        raise UserError(
            f"{path} is {entry.size:,} bytes; hub_repo reads text files up to "
            f"{MAX_READ_BYTES:,} bytes. For data files use datasets_inspect; "
            f"otherwise download it where you need it (e.g. in a sandbox)."
        )
    data = _download_bytes(settings, api, repo_id, path, kind, revision)
    text = _as_text(data)
    if text is None:
        return _binary(base, len(data))
    page = page_text(
        strip_invisible(text),
        offset=offset,
        max_chars=max_chars,
        continue_with=f"hub_repo(repo_id={repo_id!r}, op='read', path={path!r}, kind={kind!r})",
    )
    return FileContent(**base, size=len(data), **page.model_dump())


def _as_text(data: bytes) -> str | None:
    """The file as text, or None when it is binary (a NUL byte early on, or not UTF-8)."""
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _binary(base: dict[str, Any], size: int | None) -> FileContent:
    hint = (
        "Binary file: inspect data files with datasets_inspect, model weights with "
        "hub_repo(op='info') (parameter count), or download it in a sandbox."
    )
    return FileContent(
        **base, size=size, binary=True, text="", offset=0, total_chars=0, truncated=False, hint=hint
    )


def _missing_file_message(
    settings: Settings, api: Any, repo_id: str, path: str, kind: str, revision: str | None
) -> str:
    parent = path.rpartition("/")[0]
    try:
        siblings = call_hub(
            settings,
            lambda: [
                i.path
                for i in islice(
                    api.list_repo_tree(
                        repo_id, path_in_repo=parent or None, revision=revision, repo_type=kind
                    ),
                    1000,
                )
            ],
            what=f"listing {parent or 'the root'} of {repo_id}",
        )
    except UserError:
        siblings = []
    close = difflib.get_close_matches(path, siblings, 5, 0.5)
    message = f"No file {path!r} in {kind} {repo_id} at {revision or 'main'}."
    if close:
        message += f" Did you mean: {', '.join(close)}?"
    return message + f" List files with hub_repo(repo_id={repo_id!r}, op='list', path={parent!r})."
