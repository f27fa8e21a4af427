"""Suggestions for a repository that was not found: the same id as another kind, similar ids."""

from __future__ import annotations

import difflib
from itertools import islice
from typing import Any

from server.settings import Settings
from toolkits._hf.client import KINDS, hub_api


def repo_lister(api: Any, kind: str) -> Any:
    """list_models, list_datasets or list_spaces of ``api``."""
    return {"model": api.list_models, "dataset": api.list_datasets, "space": api.list_spaces}[kind]


def _lookup_failures() -> tuple[type[Exception], ...]:
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    return (HfHubHTTPError, httpx.HTTPError, OSError, ValueError)


def missing_repo_message(settings: Settings, repo_id: str, kind: str) -> str:
    """Say that ``repo_id`` was not found, and suggest what the caller probably meant: the same
    id as another kind, or similar ids found by searching the Hub."""
    failures = _lookup_failures()
    api = hub_api(settings)
    lines = [
        f"No {kind} {repo_id!r} on the Hub (or it is private or gated and HF_TOKEN lacks access)."
    ]
    # Suggestions are a courtesy: a failure while looking for them must not hide the real error.
    for other in KINDS:
        if other == kind:
            continue
        try:
            api.repo_info(repo_id, repo_type=other)
        except failures:
            continue
        lines.append(f"There is a {other} with this id: pass kind={other!r}.")
        break
    similar = _similar_repo_ids(api, repo_id, kind)
    if similar:
        lines.append(f"Similar {kind}s: {', '.join(similar)}.")
    lines.append(f"Search with hub_search(query=..., kind={kind!r}).")
    return " ".join(lines)


def _similar_repo_ids(api: Any, repo_id: str, kind: str, count: int = 5) -> list[str]:
    failures = _lookup_failures()
    author, _, name = repo_id.rpartition("/")
    candidates: list[str] = []
    queries: list[dict[str, Any]] = [{"search": name, "limit": 20}]
    if author:
        queries.append({"author": author, "limit": 100})
    queries.append({"search": name[:3], "limit": 50})
    for kwargs in queries:
        try:
            candidates += [item.id for item in islice(repo_lister(api, kind)(**kwargs), 100)]
        except failures:
            continue
    unique = list(dict.fromkeys(c for c in candidates if c != repo_id))
    by_name = {c.rpartition("/")[2].lower(): c for c in unique}
    close = difflib.get_close_matches(repo_id.lower(), [c.lower() for c in unique], count, 0.6)
    close += [
        by_name[m] for m in difflib.get_close_matches(name.lower(), list(by_name), count, 0.6)
    ]
    lowered = {c.lower(): c for c in unique}
    ranked = [lowered.get(c, c) for c in close]
    return list(dict.fromkeys(ranked))[:count]
