"""Sorting provider errors: which to retry, how long to wait, what to tell the user.

litellm maps every provider's failure onto OpenAI-style exception classes; this module sorts
those into the retry classes of ``agent.llm`` and writes the message for the ones a person must
fix. Anything that is not a provider error is left alone (it is a bug and keeps its traceback).
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Literal

from server.redact import redact

ErrorClass = Literal["rate_limit", "transient", "overflow", "fatal"]


def classify(exc: BaseException) -> ErrorClass | None:
    """Sort a provider error into a retry class; None means it is not a provider error."""
    import httpx
    import openai

    from agent.llm import import_litellm

    litellm = import_litellm()
    if isinstance(exc, litellm.ContextWindowExceededError):
        return "overflow"
    # litellm reports a refused connection as HTTP 500; nothing listening is not transient.
    if _refused(exc) is not None:
        return "fatal"
    if _connection_error(exc) is not None:
        return "transient"
    if isinstance(exc, litellm.RateLimitError | openai.RateLimitError):
        return "rate_limit"
    if isinstance(
        exc, openai.APIConnectionError | httpx.TransportError | ConnectionError | TimeoutError
    ):
        return "transient"
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.APIStatusError | litellm.APIError) and isinstance(status, int):
        if status >= 500 or status in (408, 409):
            return "transient"
        return "fatal"
    if isinstance(exc, openai.OpenAIError | litellm.BadRequestError):
        return "fatal"
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 12:
        chain.append(current)
        # `raise ... from None` hides the context on purpose: its own message is the one to use.
        hidden = current.__suppress_context__ and current.__cause__ is None
        current = current.__cause__ or (None if hidden else current.__context__)
    return chain


def _refused(exc: BaseException) -> BaseException | None:
    return next((e for e in _causes(exc) if isinstance(e, ConnectionRefusedError)), None)


def _connection_error(exc: BaseException) -> BaseException | None:
    import httpx
    import openai

    kinds = (openai.APIConnectionError, httpx.TransportError, ConnectionError, TimeoutError)
    return next((e for e in _causes(exc) if isinstance(e, kinds)), None)


def fatal_kind(exc: BaseException) -> str:
    if _refused(exc) is not None:
        return "unreachable"
    status = getattr(exc, "status_code", None)
    return {401: "auth", 403: "auth", 404: "not_found"}.get(status or 0, "bad_request")


def fatal_message(model: str, exc: BaseException) -> str:
    kind = fatal_kind(exc)
    detail = short_message(exc)
    if kind == "unreachable":
        return (
            f"Cannot connect to the LLM endpoint for {model}: {detail}. Nothing is listening "
            "there: start the model server, or fix --api-base / api_base in the agent config."
        )
    if kind == "auth":
        return (
            f"The LLM provider rejected the credentials for {model}: {detail}. Set the "
            "provider's key (ANTHROPIC_API_KEY, OPENAI_API_KEY, HF_TOKEN for the HF router, ...) "
            "or api_key in the agent config."
        )
    if kind == "not_found":
        return (
            f"The provider does not know the model {model!r}: {detail}. Use a litellm model id "
            "such as anthropic/claude-sonnet-4-5 or openai/gpt-4o (with --api-base for local "
            "servers: hosted_vllm/<name>, ollama/<name>, openai/<name>)."
        )
    return f"The LLM provider refused the request for {model}: {detail}."


def retry_after_seconds(exc: BaseException) -> float | None:
    """The wait a 429 asked for (Retry-After / retry-after-ms), if it said."""
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if not headers:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def retry_reason(kind: ErrorClass, exc: BaseException) -> str:
    if kind == "transient" and _connection_error(exc) is not None:
        return "connection error"
    status = getattr(exc, "status_code", None)
    label = "rate limited" if kind == "rate_limit" else "transient error"
    return f"{label}{f' (HTTP {status})' if status else ''}"


def short_message(exc: BaseException, limit: int = 400) -> str:
    cause = _connection_error(exc)
    if cause is not None:  # the socket's own words, not litellm's "HTTP 500: Connection error."
        exc = _refused(exc) or _causes(cause)[-1]
    text = redact(" ".join(str(exc).split()))
    # litellm stacks prefixes ("litellm.X: X: OpenAIException - msg"); the tail is the message.
    if " - " in text:
        text = text.split(" - ", 1)[1]
    status = getattr(exc, "status_code", None)
    if status and str(status) not in text:
        text = f"HTTP {status}: {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Other names the providers also accept for the key litellm asks for.
KEY_ALIASES = {"HUGGINGFACE_API_KEY": ("HF_TOKEN",), "ANTHROPIC_API_KEY": ("ANTHROPIC_AUTH_TOKEN",)}


def missing_key_message(model: str, api_base: str | None, api_key: str | None) -> str | None:
    """The one message for a provider key that is not set (checked before the first call, so
    it is a configuration error with exit code 2, not a failed run), or None."""
    if api_base or api_key:
        return None  # a local server, or a key from the config: nothing to check here
    import os

    from agent.llm import import_litellm

    try:
        found = import_litellm().validate_environment(model=model)
    except Exception:  # an unknown provider: let the first call say what is wrong
        return None
    missing = [
        key
        for key in found.get("missing_keys") or []
        if key.endswith(("_KEY", "_TOKEN"))
        and not any(os.environ.get(alias) for alias in (key, *KEY_ALIASES.get(key, ())))
    ]
    if not missing:
        return None
    return (
        f"{' / '.join(missing)} is not set: the model {model} needs it. Fix: export "
        f"{missing[0]}=..., set api_key in the agent config, or pick another --model (a local "
        "server with --api-base needs no key)."
    )
