"""What a failed Hub call means for the caller, as a ``UserError`` that says what to do.

The token never appears in a message; anything the caller cannot act on is re-raised as a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from server.errors import NotFoundError, UserError
from server.redact import redact
from server.retry import MAX_ATTEMPTS, retry_after_s
from server.settings import Settings
from toolkits._hf.client import hub_token, hub_url


def response_status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def response_headers(exc: Exception) -> Mapping[str, str] | None:
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
    status = response_status(exc)
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
        wait = retry_after_s(response_headers(exc))
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
