"""Where the model's context window comes from: the local server, the config, litellm, a default.

A local OpenAI-compatible server knows the window it was started with, and a guess would either
waste it or overflow it, so it is asked first (each where its docs say it answers):

- llama.cpp: ``GET /props`` → ``default_generation_settings.n_ctx``; ``GET /v1/models`` →
  ``data[].meta.n_ctx_train`` (the trained size, used only without ``/props``);
- vLLM: ``GET /v1/models`` → ``data[].max_model_len``;
- Ollama: ``POST /api/show {"model": name}`` → ``parameters`` ``num_ctx`` when set, else
  ``model_info["<arch>.context_length"]``.

Then ``limits.context_tokens`` from the config, then litellm's model map, then the fallback.
Every answer names its source, which the CLI prints.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from agent.config import Limits

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0


@dataclass
class ModelWindow:
    max_input_tokens: int
    known: bool  # False: nothing said the size, the fallback is used
    source: str = "default"

    def describe(self, model: str) -> str:
        """The line the CLI prints at start, so a user sees where the size came from."""
        how = "" if self.known else "; set limits.context_tokens to the real one"
        return f"{model}: context window {self.max_input_tokens} tokens (from {self.source}{how})"


def resolve_window(model: str, api_base: str | None, limits: Limits) -> ModelWindow:
    if api_base:
        found = probe_server(model, api_base)
        if found is not None:
            return ModelWindow(found[0], True, found[1])
    if limits.context_tokens:
        return ModelWindow(limits.context_tokens, True, "config limits.context_tokens")
    from agent.llm import import_litellm

    try:
        info = import_litellm().get_model_info(model)
        size = info.get("max_input_tokens") or info.get("max_tokens")
    except Exception:  # unknown (e.g. a local model): a usable default instead of a crash
        size = None
    if size:
        return ModelWindow(int(size), True, "litellm model map")
    log.warning(
        "context window of %s unknown; assuming %d tokens (set limits.context_tokens)",
        model,
        limits.fallback_context_tokens,
    )
    return ModelWindow(limits.fallback_context_tokens, False, "default")


def probe_server(model: str, api_base: str) -> tuple[int, str] | None:
    """(window, source) as the server at ``api_base`` reports it, or None."""
    import httpx

    base = api_base.rstrip("/")
    root = re.sub(r"/v1$", "", base)
    name = model.split("/", 1)[1] if "/" in model else model
    with httpx.Client(timeout=PROBE_TIMEOUT_S, follow_redirects=False) as http:
        props = _get_json(http, "GET", f"{root}/props")
        n_ctx = _positive(((props or {}).get("default_generation_settings") or {}).get("n_ctx"))
        if n_ctx:
            return n_ctx, "llama.cpp /props"
        models = _get_json(http, "GET", f"{root}/v1/models")
        entries = [e for e in (models or {}).get("data") or [] if isinstance(e, dict)]
        entry = next((e for e in entries if e.get("id") == name), entries[0] if entries else {})
        size = _positive(entry.get("max_model_len"))
        if size:
            return size, "vLLM /v1/models max_model_len"
        size = _positive((entry.get("meta") or {}).get("n_ctx_train"))
        if size:
            return size, "llama.cpp /v1/models n_ctx_train"
        show = _get_json(http, "POST", f"{root}/api/show", {"model": name})
        if show:
            match = re.search(r"^num_ctx\s+(\d+)", str(show.get("parameters") or ""), re.M)
            if match:
                return int(match.group(1)), "Ollama /api/show num_ctx"
            info = show.get("model_info") or {}
            for key, value in info.items():
                if str(key).endswith(".context_length") and _positive(value):
                    return int(value), "Ollama /api/show context_length"
    return None


def _get_json(http: Any, method: str, url: str, body: Any = None) -> dict[str, Any] | None:
    try:
        response = http.request(method, url, json=body)
        if response.status_code != 200:
            return None
        data = response.json()
    except Exception:  # not this kind of server (404, HTML, refused): ask the next
        return None
    return data if isinstance(data, dict) else None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
