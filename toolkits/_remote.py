"""Calling remote HTTP services: bounded retries, and transport trouble turned into advice.

Every remote failure a caller can act on becomes a ``UserError`` that names the service and says
what to do next (wait, set a credential, fix an id, check the endpoint setting). The papers and docs toolkits
share this module (the leading underscore: it is no toolkit of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from server.errors import NotFoundError, UserError
from server.retry import MAX_ATTEMPTS, send_with_retries, wait_before_retry_s

USER_AGENT = "mlintern/0.1 (ML engineering tools over MCP)"


class ServiceUnavailable(UserError):
    """The service could not answer now (timeout, unreachable, rate limit, 5xx): try later."""


@dataclass(frozen=True)
class Service:
    """What error messages need to know about a remote service."""

    name: str
    base_url: str
    url_setting: str
    timeout_s: float
    credential: str | None = None  # env var of a key that grants access or a higher rate limit
    has_credential: bool = False

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


def client(
    service: Service, headers: Mapping[str, str] | None = None, follow_redirects: bool = False
) -> httpx.Client:
    """An httpx client for one service.

    Redirects are off unless asked for: httpx drops Authorization on a cross-origin redirect
    but would carry any other credential header (x-api-key) along to the new host.
    """
    return httpx.Client(
        timeout=service.timeout_s,
        follow_redirects=follow_redirects,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
    )


def with_retries(call: Callable[[], httpx.Response], service: Service) -> httpx.Response:
    """Run ``call`` under the shared retry policy; transport trouble becomes advice."""
    try:
        return send_with_retries(call)
    except httpx.TimeoutException:
        raise timed_out(service) from None
    except httpx.TransportError as exc:
        raise unreachable(service, exc) from None


def get(
    http: httpx.Client,
    service: Service,
    path_or_url: str,
    *,
    params: Mapping[str, str | int] | None = None,
    not_found: str | None = None,
) -> httpx.Response:
    """GET with retries; a non-2xx answer becomes a UserError (``not_found`` for a 404)."""
    url = path_or_url if "://" in path_or_url else service.url(path_or_url)
    response = with_retries(lambda: http.get(url, params=params), service)
    raise_for_status(response.status_code, response.headers, response.text, service, not_found)
    return response


def raise_for_status(
    status: int,
    headers: Mapping[str, str],
    body: str,
    service: Service,
    not_found: str | None = None,
) -> None:
    if status < 300:
        return
    if status == 404:
        raise NotFoundError(not_found or f"{service.name} has no such resource (HTTP 404).")
    credential = service.credential
    if status in (401, 403):
        if credential and service.has_credential:
            raise UserError(
                f"{service.name} rejected {credential} (HTTP {status}). Check that the key is "
                f"valid and has access, or unset {credential} to use anonymous access."
            )
        hint = f" Set {credential}=... if you have access." if credential else ""
        raise UserError(f"{service.name} denied access (HTTP {status}).{hint}")
    if status == 429:
        wait = wait_before_retry_s(headers, MAX_ATTEMPTS)
        hint = ""
        if credential and not service.has_credential:
            hint = f" Setting {credential} raises the rate limit."
        raise ServiceUnavailable(
            f"{service.name} is rate-limiting requests (HTTP 429) and still was after "
            f"{MAX_ATTEMPTS} attempts. Wait about {max(wait, 1):.0f} s before trying again." + hint
        )
    if status >= 500:
        raise ServiceUnavailable(
            f"{service.name} failed with HTTP {status} after {MAX_ATTEMPTS} attempts; it is "
            "probably a temporary outage. Try again in a minute."
        )
    detail = " ".join(body.split())[:200]
    raise UserError(f"{service.name} rejected the request (HTTP {status}): {detail}")


def timed_out(service: Service) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"{service.name} did not answer within {service.timeout_s:g} s. Try again later, or "
        "raise MLINTERN_HTTP_TIMEOUT_S if the service is just slow."
    )


def unreachable(service: Service, exc: Exception) -> ServiceUnavailable:
    reason = str(exc) or type(exc).__name__
    return ServiceUnavailable(
        f"Cannot reach {service.name} at {service.base_url} ({reason}). Check the network "
        f"connection, or {service.url_setting} if it points somewhere else."
    )
