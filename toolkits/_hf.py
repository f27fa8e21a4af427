"""Hugging Face plumbing shared by every toolkit that talks to the Hub or the dataset viewer.

- ``hub_api(settings)`` builds the official ``HfApi`` client against ``settings.hf_endpoint``
  with the configured token (or explicitly none: a token file lying around is never picked up
  behind the user's back).
- ``call_hub(settings, fn, ...)`` runs one client call with the settings' time limit, retries
  rate limits (and, for reads, transient server errors) a bounded number of times, and turns
  every failure the caller can act on into a ``UserError`` that says what to do next.
- ``hf_http_client(settings)`` is an httpx client for plain HTTP calls (dataset viewer, parquet
  downloads) that attaches the token only to Hugging Face's own hosts.

huggingface_hub and httpx are imported inside functions: building the server must stay cheap.
"""

from __future__ import annotations

import contextvars
import difflib
import logging
import time
from collections.abc import Callable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from server.errors import MissingCredentialError, NotFoundError, UserError
from server.redact import redact
from server.retry import (
    MAX_ATTEMPTS,
    RETRYABLE_STATUSES,
    retry_after_s,
    retry_wait_s,
    send_with_retries,
)
from server.settings import Settings

if TYPE_CHECKING:
    import httpx
    from huggingface_hub import HfApi

log = logging.getLogger(__name__)

T = TypeVar("T")

KINDS = ("model", "dataset", "space")

_request_timeout: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "mlintern_hf_request_timeout", default=None
)


def hub_token(settings: Settings) -> str | None:
    return settings.hf_token.get_secret_value() if settings.hf_token else None


def require_token(settings: Settings, purpose: str) -> str:
    token = hub_token(settings)
    if not token:
        raise MissingCredentialError(
            "HF_TOKEN", f"{purpose} (create a write token at {hub_url(settings)}/settings/tokens)"
        )
    return token


def hub_url(settings: Settings) -> str:
    return settings.hf_endpoint.rstrip("/")


def repo_url(settings: Settings, repo_id: str, kind: str) -> str:
    prefix = "" if kind == "model" else f"{kind}s/"
    return f"{hub_url(settings)}/{prefix}{repo_id}"


def hub_api(settings: Settings) -> HfApi:
    from huggingface_hub import HfApi
    from huggingface_hub.utils import disable_progress_bars

    # tqdm bars would interleave with the server's stderr log and help nobody there.
    disable_progress_bars()
    return HfApi(
        endpoint=hub_url(settings),
        token=hub_token(settings) or False,
        library_name="mlintern",
    )


def _apply_timeout(request: httpx.Request) -> None:
    seconds = _request_timeout.get()
    if seconds is not None:
        import httpx

        request.extensions["timeout"] = httpx.Timeout(seconds).as_dict()


def _hook_timeouts_into_shared_session() -> None:
    """huggingface_hub's shared httpx client has no timeout at all; bound our calls.

    The hook only acts inside ``call_hub`` (a context variable carries the limit), so other
    users of the shared client keep the library's behaviour. The library may replace its
    client (after a connection error, after fork): check on every call.
    """
    from huggingface_hub.utils import get_session

    session = get_session()
    hooks = session.event_hooks.get("request", [])
    if _apply_timeout not in hooks:
        session.event_hooks = {**session.event_hooks, "request": [*hooks, _apply_timeout]}


def call_hub(
    settings: Settings,
    fn: Callable[[], T],
    *,
    what: str,
    write: bool = False,
    not_found: Callable[[], str] | None = None,
) -> T:
    """Run ``fn`` (one or a few client calls) with a time limit, bounded retries and clear errors.

    ``what`` names the action for messages ("listing files of gpt2"). ``not_found`` builds the
    message for a missing repository (it may search for similar ids). Writes are retried only on
    429, where the Hub rejected the request before doing anything.
    """
    from huggingface_hub.errors import HfHubHTTPError

    _hook_timeouts_into_shared_session()
    retry_on = {429} if write else RETRYABLE_STATUSES
    reset = _request_timeout.set(settings.http_timeout_s)
    try:
        attempt = 1
        while True:
            try:
                return fn()
            except HfHubHTTPError as exc:
                status, headers = _status(exc), _headers(exc)
                wait = retry_wait_s(status, headers, attempt, retry_on)
                if wait is None:
                    raise
                log.info("Hub answered %s while %s; retry %d in %.1fs", status, what, attempt, wait)
                time.sleep(wait)
                attempt += 1
    except UserError:
        raise
    except Exception as exc:
        raise hub_error(settings, exc, what=what, not_found=not_found) from None
    finally:
        _request_timeout.reset(reset)


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _headers(exc: Exception) -> Mapping[str, str] | None:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None)


def hub_error(
    settings: Settings,
    exc: BaseException,
    *,
    what: str,
    not_found: Callable[[], str] | None = None,
) -> UserError:
    """The UserError for a failed Hub call; the token never appears in it."""
    message = _describe(settings, exc, what, not_found)
    error_class = NotFoundError if isinstance(message, _NotFound) else UserError
    return error_class(redact(str(message), extra=[hub_token(settings) or ""]))


class _NotFound(str):
    pass


def _describe(
    settings: Settings, exc: BaseException, what: str, not_found: Callable[[], str] | None
) -> str:
    import httpx
    from huggingface_hub import errors

    endpoint = hub_url(settings)
    if isinstance(exc, errors.LocalEntryNotFoundError) and exc.__cause__ is not None:
        # hf_hub_download hides the network failure behind "not in the local cache".
        return _describe(settings, exc.__cause__, what, not_found)
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return f"Cannot reach the Hub while {what}: HF_HUB_OFFLINE is set. Unset it to go online."
    if isinstance(exc, httpx.TimeoutException):
        return (
            f"The Hub at {endpoint} did not answer within {settings.http_timeout_s:g}s while "
            f"{what}. Try again in a moment, or raise MLINTERN_HTTP_TIMEOUT_S."
        )
    if isinstance(exc, httpx.TransportError):
        return (
            f"Cannot reach the Hub at {endpoint} while {what} ({type(exc).__name__}). Check the "
            f"network connection, or MLINTERN_HF_ENDPOINT if you use a mirror."
        )
    if isinstance(exc, errors.GatedRepoError):
        return (
            f"Access denied while {what}: the repository is gated. Accept its conditions on its "
            f"Hub page with the account of your HF_TOKEN, then retry."
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        if not_found is not None:
            return _NotFound(not_found())
        return _NotFound(
            f"Repository not found while {what} (or it is private and HF_TOKEN lacks access). "
            f"Check the id and kind with hub_search."
        )
    if isinstance(exc, errors.RevisionNotFoundError):
        return _NotFound(
            f"Revision not found while {what}. Use a branch, tag or commit that exists "
            f"(omit revision for 'main')."
        )
    if isinstance(exc, errors.EntryNotFoundError):
        return _NotFound(f"File not found while {what}. List the files with hub_repo(op='list').")
    if isinstance(exc, errors.DisabledRepoError):
        return f"The repository is disabled on the Hub; {what} is not possible."
    if isinstance(exc, errors.HfHubHTTPError):
        return _http_status_message(settings, exc, what)
    if isinstance(exc, errors.FileMetadataError):
        return f"Unexpected answer while {what}: {exc}"
    if isinstance(exc, errors.HFValidationError):
        return f"Invalid input while {what}: {exc}"
    raise exc  # not something the caller can act on: a bug, reported as an internal error


def _http_status_message(settings: Settings, exc: Any, what: str) -> str:
    status = _status(exc)
    server_says = (getattr(exc, "server_message", None) or "").strip()
    detail = f" The Hub said: {server_says}" if server_says else ""
    if status == 401:
        if hub_token(settings):
            return (
                f"HF_TOKEN was rejected (401) while {what}: it is invalid or expired. Create a "
                f"new token at {hub_url(settings)}/settings/tokens and export HF_TOKEN.{detail}"
            )
        return f"Authentication required (401) while {what}: export HF_TOKEN.{detail}"
    if status == 403:
        return (
            f"Permission denied (403) while {what}: HF_TOKEN lacks the rights for this "
            f"(writes need a token with write access to the namespace).{detail}"
        )
    if status == 429:
        wait = retry_after_s(_headers(exc))
        later = f"after {wait:g}s" if wait is not None else "in a minute"
        return (
            f"The Hub is rate-limiting requests (429) while {what}, still after {MAX_ATTEMPTS} "
            f"attempts. Retry {later}; an HF_TOKEN raises the limits.{detail}"
        )
    if status == 409:
        return f"Conflict (409) while {what}.{detail}"
    if status is not None and status >= 500:
        return (
            f"The Hub failed with {status} while {what}. This is on the Hub's side: retry in a "
            f"minute.{detail}"
        )
    return f"The Hub refused the request ({status}) while {what}.{detail or ' ' + str(exc)}"


# --- suggestions for a missing repository ----------------------------------------------


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


# --- plain HTTP to Hugging Face services --------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port)


def hf_http_client(settings: Settings) -> httpx.Client:
    """An httpx client whose requests carry HF_TOKEN only when they go to the Hub or the viewer.

    httpx itself drops the Authorization header when a redirect leaves the origin (to a CDN).
    """
    import httpx

    token = hub_token(settings)
    trusted = {_origin(hub_url(settings)), _origin(settings.datasets_server_url)}

    class _HubOnlyAuth(httpx.Auth):
        def auth_flow(self, request: httpx.Request):  # type: ignore[override]
            url = str(request.url)
            if token and _origin(url) in trusted:
                request.headers["Authorization"] = f"Bearer {token}"
            yield request

    return httpx.Client(
        auth=_HubOnlyAuth(),
        timeout=httpx.Timeout(settings.http_timeout_s),
        follow_redirects=True,
        headers={"User-Agent": "mlintern"},
    )


def http_get_with_retries(
    client: httpx.Client, url: str, *, params: dict[str, str] | None = None
) -> httpx.Response:
    """GET under the shared retry policy (429 and transient 5xx), as ``call_hub`` does."""
    return send_with_retries(lambda: client.get(url, params=params))
