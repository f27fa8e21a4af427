"""One way to talk to GitHub: a PyGithub client with bounded retries, and errors that say what to do.

PyGithub is imported inside the functions: building the server must not pay for it. The token
goes only into PyGithub's ``Auth.Token`` for ``settings.github_api_url``; PyGithub keeps it on that
host (it drops the Authorization header when a redirect leaves it).
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from server.errors import MissingCredentialError, NotFoundError, UserError
from server.redact import redact
from server.settings import Settings

if TYPE_CHECKING:
    from github import Github

# (done, total, message): how far a long GitHub call has got, for MCP progress notifications.
Progress = Callable[[float, float | None, str], None]
TOKEN_HELP = (
    "Create a token at https://github.com/settings/tokens (no scopes are needed for public "
    "repositories) and export GITHUB_TOKEN=<token>"
)


def no_progress(done: float, total: float | None, message: str) -> None:
    return None


def timeout_s(settings: Settings) -> int:
    return max(1, math.ceil(settings.http_timeout_s))  # PyGithub takes whole seconds only


def github_token(settings: Settings) -> str | None:
    token = settings.github_token.get_secret_value().strip() if settings.github_token else ""
    return token or None


@functools.cache
def _retry_class() -> type:
    from github import GithubRetry
    from urllib3.exceptions import MaxRetryError, ResponseError

    class BoundedRetry(GithubRetry):
        """GithubRetry that gives up, rather than sleeps, when GitHub asks for a long wait.

        urllib3 would sleep for any Retry-After (only capped, not refused); a tool call must not
        hang for an hour, so a wait beyond ``max_rate_limit_wait`` ends the retries and the
        answer goes back to PyGithub, whose exception we turn into "wait N s" for the caller.
        """

        def increment(  # type: ignore[override]
            self,
            method: Any = None,
            url: Any = None,
            response: Any = None,
            error: Any = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> Any:
            asked = response.headers.get("Retry-After") if response is not None else None
            if asked and self.max_rate_limit_wait is not None:
                try:
                    seconds = self.parse_retry_after(asked)
                except Exception:  # GitHub sends whole seconds; leave anything odd to urllib3
                    seconds = 0.0
                if seconds > self.max_rate_limit_wait:
                    raise MaxRetryError(_pool, url, ResponseError("Retry-After beyond limit"))
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return BoundedRetry


def _retry_policy(settings: Settings) -> Any:
    wait = settings.github_max_wait_s
    return _retry_class()(
        total=settings.github_max_retries,
        # A read timeout already cost http_timeout_s; retrying it would multiply the wait.
        read=False,
        backoff_factor=0.5,
        backoff_max=wait,
        retry_after_max=24 * 3600,  # BoundedRetry refuses long waits itself, see above
        # Hand the last answer to PyGithub so its exception carries GitHub's status and headers.
        raise_on_status=False,
        status_forcelist=[429, 500, 502, 503, 504],
        # GitHub asks for at least a minute after a secondary limit without Retry-After; with a
        # shorter max wait, PyGithub reports it at once instead of retrying too early.
        secondary_rate_wait=60.0,
        max_rate_limit_wait=wait,
    )


@contextlib.contextmanager
def open_github(settings: Settings, per_page: int = 100) -> Iterator[Github]:
    """A PyGithub client for ``settings.github_api_url``; GitHub failures become UserErrors."""
    from github import Auth, Github

    token = github_token(settings)
    client = Github(
        base_url=settings.github_api_url.rstrip("/"),
        auth=Auth.Token(token) if token else None,
        timeout=timeout_s(settings),
        per_page=per_page,
        retry=_retry_policy(settings),
        lazy=True,  # fetch an object only when one of its fields is read
    )
    try:
        yield client
    except UserError:
        raise
    except Exception as exc:
        explained = explain_failure(exc, settings)
        if explained is None:
            raise
        raise explained from None
    finally:
        client.close()


def is_not_found(exc: BaseException) -> bool:
    from github import GithubException

    return isinstance(exc, GithubException) and exc.status == 404


def explain_failure(exc: BaseException, settings: Settings) -> UserError | None:
    """The UserError for a failed GitHub call, or None when it is not GitHub's doing (a bug)."""
    import requests
    from github import GithubException

    token = github_token(settings)
    api = settings.github_api_url
    if isinstance(exc, GithubException):
        return _explain_status(exc, token, settings)
    if isinstance(exc, requests.exceptions.Timeout):
        return UserError(
            f"GitHub ({api}) did not answer within {timeout_s(settings)} s. Try again, ask "
            "for less (a smaller limit or line range), or raise MLINTERN_HTTP_TIMEOUT_S."
        )
    if isinstance(exc, requests.exceptions.RetryError):
        return UserError(
            f"GitHub ({api}) kept failing after {settings.github_max_retries} retries ({exc}). "
            "Try again in a minute."
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return UserError(
            f"Cannot reach the GitHub API at {api} (connection failed after "
            f"{settings.github_max_retries} retries). Check the network connection; for GitHub "
            "Enterprise set MLINTERN_GITHUB_API_URL to its API root (https://HOST/api/v3)."
        )
    return None


def _explain_status(exc: Any, token: str | None, settings: Settings) -> UserError:
    status: int = exc.status
    data = exc.data if isinstance(exc.data, dict) else {}
    said = str(data.get("message") or exc.message or "no message").strip()
    details = "; ".join(
        str(e.get("message") or e) for e in data.get("errors") or [] if isinstance(e, dict)
    )
    said = f"{said} ({details})" if details else said
    headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
    rate_limited = (
        status == 429
        or "rate limit" in said.lower()
        or (status == 403 and headers.get("x-ratelimit-remaining") == "0")
    )
    if rate_limited:
        message = _rate_limit_message(status, headers, token, settings, getattr(exc, "wait", None))
    elif status == 401 and token:
        message = (
            f"GitHub rejected GITHUB_TOKEN (401: {said}): it is invalid, expired or revoked. "
            f"{TOKEN_HELP}, or unset it to read public data anonymously."
        )
    elif status == 401:
        return MissingCredentialError("GITHUB_TOKEN", f"this GitHub request (401: {said})")
    elif status == 403:
        message = f"GitHub refused access (403: {said}). " + (
            "GITHUB_TOKEN lacks permission for this: a fine-grained token needs read access to "
            "the repository's contents, and organizations with SSO must authorize the token."
            if token
            else f"Anonymous access is not allowed here. {TOKEN_HELP}."
        )
    elif status == 404:
        return NotFoundError(
            f"GitHub has nothing at that address (404: {said}). Check the spelling; private "
            "repositories need a GITHUB_TOKEN that can read them."
        )
    elif status == 422:
        message = f"GitHub rejected the request as invalid (422: {said}). Adjust the arguments."
    elif status >= 500:
        message = (
            f"GitHub answered {status} ({said}) even after {settings.github_max_retries} "
            "retries: the service is having trouble. Try again in a few minutes."
        )
    else:
        message = f"GitHub answered {status}: {said}."
    return UserError(redact(message, extra=[token or ""]))


def _rate_limit_message(
    status: int, headers: dict[str, str], token: str | None, settings: Settings, wait: Any
) -> str:
    seconds: float | None = float(wait) if wait is not None else None
    retry_after = headers.get("retry-after", "")
    reset = headers.get("x-ratelimit-reset", "")
    if seconds is None and retry_after.isdigit():
        seconds = float(retry_after)
    elif seconds is None and reset.isdigit():
        seconds = max(0.0, int(reset) - time.time())
    text = f"GitHub's rate limit was hit ({status}) "
    if seconds is not None and seconds > settings.github_max_wait_s:
        text += (
            f"and it asks to wait {_duration(seconds)}, longer than this server waits "
            f"(MLINTERN_GITHUB_MAX_WAIT_S={settings.github_max_wait_s:g})."
        )
    else:
        text += f"and was still in force after {settings.github_max_retries} retries."
    # The reset time belongs to the primary limit; a secondary limit (429) does not use it.
    if reset.isdigit() and headers.get("x-ratelimit-remaining") == "0":
        when = datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M:%S UTC")
        text += f" The limit resets at {when}."
    if token:
        text += " Wait, then try again; fewer or narrower calls help."
    else:
        text += (
            " Anonymous requests get 60 per hour; with a token, 5,000. "
            f"{TOKEN_HELP}, or wait and try again."
        )
    return text


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
