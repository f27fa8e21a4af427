"""The Hugging Face dataset viewer API (datasets-server): a small client with clear errors.

Endpoints used: /is-valid, /splits, /info, /size, /first-rows, /statistics and /parquet, as
documented at https://huggingface.co/docs/dataset-viewer. HF_TOKEN is sent (the viewer needs
it for gated and private datasets) only because the viewer is a Hugging Face host; see
``toolkits._hf.client.hf_http_client``.
"""

from __future__ import annotations

from typing import Any

from server.errors import NotFoundError, UserError
from server.redact import redact
from server.retry import MAX_ATTEMPTS
from server.settings import Settings
from toolkits._hf.client import hf_http_client, http_get_with_retries, hub_token
from toolkits._hf.suggestions import missing_repo_message


class ViewerError(UserError):
    """A viewer answer the caller can act on; ``status`` tells optional lookups what failed."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Viewer:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.base = settings.datasets_server_url.rstrip("/")
        self.client = hf_http_client(settings)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, endpoint: str, dataset: str, **params: str) -> dict[str, Any]:
        import httpx

        url = f"{self.base}/{endpoint}"
        try:
            response = http_get_with_retries(
                self.client, url, params={"dataset": dataset, **params}
            )
        except httpx.TimeoutException:
            raise ViewerError(
                f"The dataset viewer at {self.base} did not answer /{endpoint} within "
                f"{self.settings.http_timeout_s:g}s. Retry later or raise MLINTERN_HTTP_TIMEOUT_S."
            ) from None
        except httpx.TransportError as exc:
            raise ViewerError(
                f"Cannot reach the dataset viewer at {self.base} ({type(exc).__name__}). Check "
                f"the network, or MLINTERN_DATASETS_SERVER_URL."
            ) from None
        if response.status_code == 200:
            return response.json()
        raise self._error(response, endpoint, dataset)

    def _error(self, response: Any, endpoint: str, dataset: str) -> UserError:
        status = response.status_code
        try:
            said = str(response.json().get("error", ""))
        except ValueError:
            said = response.text[:300]
        said = redact(said, extra=[hub_token(self.settings) or ""])
        code = response.headers.get("X-Error-Code", "")
        if status == 404 and endpoint in ("is-valid", "splits"):
            return NotFoundError(missing_repo_message(self.settings, dataset, "dataset"))
        if status in (401, 403):
            fix = (
                "HF_TOKEN has no access: accept the dataset's conditions on its Hub page"
                if hub_token(self.settings)
                else "export HF_TOKEN with access to it"
            )
            return ViewerError(
                f"{dataset} is private or gated (viewer answered {status} for /{endpoint}): {fix}.",
                status,
            )
        if status == 429:
            return ViewerError(
                f"The dataset viewer is rate-limiting requests (429), still after {MAX_ATTEMPTS} "
                f"attempts. Retry in a minute.",
                status,
            )
        if code == "ResponseNotReady":
            return ViewerError(
                f"The dataset viewer has not finished processing {dataset} (/{endpoint} is not "
                f"ready). Retry in a minute.",
                status,
            )
        return ViewerError(
            f"The dataset viewer could not answer /{endpoint} for {dataset} ({status}"
            f"{', ' + code if code else ''}): {said or 'no detail'}.",
            status,
        )

    def optional(self, endpoint: str, dataset: str, notes: list[str], **params: str) -> Any:
        """An endpoint whose absence only makes the answer less complete."""
        try:
            return self.get(endpoint, dataset, **params)
        except ViewerError as exc:
            notes.append(f"no /{endpoint}: {exc}")
            return None


def choose(
    entries: list[dict[str, Any]], config: str | None, split: str | None, dataset: str
) -> tuple[str, str, list[str]]:
    """The config and split to use among the viewer's ``{config, split}`` entries."""
    configs = list(dict.fromkeys(str(e["config"]) for e in entries))
    if not configs:
        raise ViewerError(f"The dataset viewer lists no splits for {dataset} yet. Retry later.")
    if config is None:
        config = "default" if "default" in configs else configs[0]
    elif config not in configs:
        raise NotFoundError(f"No config {config!r} in {dataset}. Configs: {', '.join(configs)}.")
    splits = [str(e["split"]) for e in entries if e["config"] == config]
    if split is None:
        split = "train" if "train" in splits else splits[0]
    elif split not in splits:
        raise NotFoundError(
            f"No split {split!r} in {dataset} config {config!r}. Splits: {', '.join(splits)}."
        )
    return config, split, configs


def feature_type(feature: Any) -> str:
    """A compact type for a `datasets` feature as the viewer serialises it."""
    if isinstance(feature, list):
        return f"list<{feature_type(feature[0]) if feature else '?'}>"
    if not isinstance(feature, dict):
        return str(feature)
    kind = feature.get("_type")
    if kind is None:
        return "struct<" + ", ".join(f"{k}: {feature_type(v)}" for k, v in feature.items()) + ">"
    if kind == "Value":
        return str(feature.get("dtype"))
    if kind == "ClassLabel":
        names = feature.get("names") or []
        shown = ", ".join(map(str, names[:8])) + (", …" if len(names) > 8 else "")
        return f"class_label[{shown}]"
    if kind in ("List", "Sequence", "LargeList"):
        return f"list<{feature_type(feature.get('feature'))}>"
    return str(kind).lower()
