"""Clients for Hugging Face: the official ``HfApi``, and httpx for plain HTTP calls.

- ``hub_api(settings)`` builds ``HfApi`` against ``settings.hf_endpoint`` with the configured
  token (or explicitly none: a token file lying around is never picked up behind the user's back).
- ``hf_http_client(settings)`` is an httpx client for plain HTTP calls (dataset viewer, parquet
  downloads) that attaches the token only to Hugging Face's own hosts.

huggingface_hub and httpx are imported inside functions: building the server must stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from server.errors import MissingCredentialError
from server.retry import send_with_retries
from server.settings import Settings

if TYPE_CHECKING:
    import httpx
    from huggingface_hub import HfApi

KINDS = ("model", "dataset", "space")


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
