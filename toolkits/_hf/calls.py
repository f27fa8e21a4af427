"""One Hub call with a time limit, bounded retries and an error the caller can act on.

huggingface_hub's shared httpx client has no timeout; ``call_hub`` bounds each call through a
request hook, retries rate limits (and, for reads, transient server errors) a bounded number of
times, and turns every failure the caller can act on into a ``UserError`` (hf/errors.py).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from server.errors import UserError
from server.retry import RETRYABLE_STATUSES, retry_wait_s
from server.settings import Settings
from toolkits._hf.errors import hub_error, response_headers, response_status

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")

_request_timeout: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "mlintern_hf_request_timeout", default=None
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
                status, headers = response_status(exc), response_headers(exc)
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
