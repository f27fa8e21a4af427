"""LLM calls through litellm: streaming, retries by error class, the model's window and cost.

litellm is imported on the first call, never at module import: ``mlintern-agent --help`` and
the server's start-up do not pay for it. litellm's own retries (and the OpenAI SDK's) are
switched off so that one policy, tested here, decides:

- rate limits: wait what Retry-After says (capped), else a long backoff;
- transient failures (5xx, timeouts, dropped connections): a short backoff;
- context overflow: raise ``ContextOverflow`` so the loop compacts and tries once more;
- everything the user must fix (credentials, unknown model, bad request): no retry, and a
  message that says what to do;
- a model that refuses the reasoning effort: dropped for that model, the request sent again
  once without it (agent/effort.py).

Anthropic models get prompt-cache breakpoints on each request (agent/prompt_cache.py), and the
cost counts the cached part of the prompt at the provider's cache prices.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.config import Limits
from agent.effort import (
    EffortSetting,
    keeps_thinking_blocks,
    rejects_effort,
    without_thinking_blocks,
)
from agent.events import EventSink, Notice, Retrying, deliver
from agent.llm_errors import (
    ErrorClass,
    classify,
    fatal_kind,
    fatal_message,
    retry_after_seconds,
    retry_reason,
    short_message,
)
from agent.llm_reading import TokenUsage, read_message, read_stream
from agent.model_window import ModelWindow, resolve_window
from agent.prompt_cache import wants_cache_marks, with_cache_marks
from agent.stream_guard import Degeneration, StreamStalled
from agent.tokens import count_request_tokens
from server.errors import UserError

log = logging.getLogger(__name__)

# Model-id prefixes litellm routes to self-hosted OpenAI-compatible servers (no key needed).
LOCAL_PREFIXES = ("hosted_vllm/", "ollama/", "ollama_chat/", "lm_studio/", "llamafile/")


class LLMFailure(UserError):
    """The model could not be reached or refused the request; the message says what to do."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class ContextOverflow(Exception):
    """The provider said the prompt does not fit the model's window."""


@dataclass
class ToolCallRequest:
    id: str
    name: str
    arguments: str  # raw JSON text from the model; parsed (and validated) by the loop


@dataclass
class ModelReply:
    text: str
    tool_calls: list[ToolCallRequest]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cost_known: bool
    usage_reported: bool = True
    degenerate: Degeneration | None = None  # the stream was cut: its tail repeated itself
    cache_read_tokens: int = 0  # of prompt_tokens: read from the provider's prompt cache
    cache_write_tokens: int = 0  # of prompt_tokens: written to it
    thinking_blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.thinking_blocks:  # Anthropic wants them back with the tool calls they led to
            message["thinking_blocks"] = self.thinking_blocks
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return message


class ChatModel(Protocol):
    """What the loop needs from a model (``LiteLLMModel``; a benchmark's zero-latency stand-in)."""

    model: str

    def window(self) -> ModelWindow: ...

    async def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        stream: bool = True,
        on_text: Callable[[str], Awaitable[None]] | None = None,
        max_tokens: int | None = None,
    ) -> ModelReply: ...


@dataclass
class LiteLLMModel:
    """One model behind litellm, with the retry policy of this module."""

    model: str
    limits: Limits = field(default_factory=Limits)
    api_base: str | None = None
    api_key: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    emit: EventSink | None = None
    prompt_caching: bool = True
    effort: EffortSetting = field(default_factory=EffortSetting)
    _window: ModelWindow | None = field(default=None, init=False, repr=False)

    # --- model facts --------------------------------------------------------------------
    def switch(self, model: str) -> None:
        self.model = model
        self._window = None  # the new model has its own window

    def window(self) -> ModelWindow:
        if self._window is None:
            self._window = resolve_window(self.model, self.api_base, self.limits)
        return self._window

    def output_cap(self) -> int:
        """max_output_tokens when set, else a default no larger than a quarter of the window."""
        if self.max_output_tokens:
            return self.max_output_tokens
        quarter = max(256, self.window().max_input_tokens // 4)
        return min(self.limits.default_output_tokens, quarter)

    def cost(self, usage: TokenUsage) -> tuple[float, bool]:
        """USD for one call from litellm's price map, cached input at the cache's prices."""
        litellm = import_litellm()
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=self.model,
                prompt_tokens=usage.prompt,
                completion_tokens=usage.completion,
                cache_read_input_tokens=usage.cache_read,
                cache_creation_input_tokens=usage.cache_write,
            )
        except Exception:  # not in the price map (local models): free as far as we know
            return 0.0, False
        return float(prompt_cost + completion_cost), True

    # --- calls --------------------------------------------------------------------------
    async def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        stream: bool = True,
        on_text: Callable[[str], Awaitable[None]] | None = None,
        max_tokens: int | None = None,
    ) -> ModelReply:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            effort_sent = max_tokens is None and self.effort.for_model(self.model) is not None
            try:
                return await self._once(messages, tools, stream, on_text, max_tokens)
            except Exception as exc:
                if effort_sent and rejects_effort(exc):
                    notice = self.effort.refuse(self.model)
                    log.warning("%s (%s)", notice, short_message(exc))
                    await deliver(self.emit, Notice(text=notice))
                    attempt -= 1  # the same request again, without it: not a failed try
                    continue
                kind = "transient" if isinstance(exc, StreamStalled) else classify(exc)
                if kind is None:
                    raise  # not a provider error: a bug, with its traceback
                if kind == "overflow":
                    raise ContextOverflow(short_message(exc)) from exc
                if kind == "fatal":
                    raise LLMFailure(fatal_message(self.model, exc), fatal_kind(exc)) from exc
                if attempt >= self.limits.llm_attempts:
                    raise LLMFailure(
                        f"The LLM endpoint for {self.model} kept failing: {short_message(exc)} "
                        f"({attempt} attempts over {time.monotonic() - started:.1f}s). Check the "
                        "provider's status, your network or --api-base, then resume the session.",
                        "exhausted",
                    ) from exc
                delay = self._delay(kind, attempt, exc)
                log.info("LLM %s error, retry %d in %.1fs: %s", kind, attempt, delay, exc)
                await deliver(
                    self.emit,
                    Retrying(attempt=attempt, delay_s=delay, reason=_reason(kind, exc)),
                )
                await asyncio.sleep(delay)

    def _delay(self, kind: ErrorClass, attempt: int, exc: BaseException) -> float:
        if kind == "rate_limit":
            asked = retry_after_seconds(exc)
            if asked is not None:
                return min(asked, self.limits.max_retry_wait_s)
            steps = self.limits.rate_limit_backoff_s
        else:
            steps = self.limits.transient_backoff_s
        base = steps[min(attempt - 1, len(steps) - 1)] if steps else 1.0
        # Jitter upwards only, so a configured delay is a lower bound clients can rely on.
        return min(base * (1 + 0.1 * random.random()), self.limits.max_retry_wait_s)

    def _params(self, stream: bool, max_tokens: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "stream": stream,
            "timeout": self.limits.llm_timeout_s,
            # Our retry policy is the only one: litellm's and the OpenAI SDK's are off.
            "num_retries": 0,
            "max_retries": 0,
        }
        if stream:
            params["stream_options"] = {"include_usage": True}
        if self.api_base:
            params["api_base"] = self.api_base
        key = self.api_key or _placeholder_key(self.model, self.api_base)
        if key:
            params["api_key"] = key
        if self.temperature is not None:
            params["temperature"] = self.temperature
        params["max_tokens"] = max_tokens or self.output_cap()
        effort = self.effort.for_model(self.model)
        # A call with its own small cap (the compaction summary) needs no thinking, and Anthropic
        # refuses a thinking budget that does not fit under max_tokens.
        if effort is not None and max_tokens is None:
            params["reasoning_effort"] = effort
        return params

    async def _once(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        stream: bool,
        on_text: Callable[[str], Awaitable[None]] | None,
        max_tokens: int | None,
    ) -> ModelReply:
        litellm = import_litellm()
        params = self._params(stream, max_tokens)
        if not keeps_thinking_blocks(self.model):
            messages = without_thinking_blocks(messages)
        if self.prompt_caching and wants_cache_marks(self.model, self.api_base):
            messages, tools = with_cache_marks(messages, tools)
        if tools:
            params["tools"] = tools
            params["tool_choice"] = "auto"
        degenerate = None
        if stream:
            try:  # the request itself may hang before any header: that is no first token either
                response = await asyncio.wait_for(
                    litellm.acompletion(messages=messages, **params),
                    self.limits.first_token_timeout_s,
                )
            except TimeoutError:
                raise StreamStalled(
                    f"no first token for {self.limits.first_token_timeout_s:g}s"
                ) from None
            text, calls, usage, degenerate, thinking = await read_stream(
                response, on_text, self.limits
            )
        else:
            response = await litellm.acompletion(messages=messages, **params)
            text, calls, usage, thinking = read_message(response)
            if text and on_text is not None:
                await on_text(text)
        reported = usage is not None
        if usage is None:  # some local servers send no usage: count what was sent
            usage = TokenUsage(count_request_tokens(messages, tools), max(1, len(text) // 4))
        cost, known = self.cost(usage)
        return ModelReply(
            text,
            calls,
            usage.prompt,
            usage.completion,
            cost,
            known,
            reported,
            degenerate,
            usage.cache_read,
            usage.cache_write,
            thinking,
        )


def import_litellm() -> Any:
    """litellm, configured once for offline, quiet use."""
    # The cost map ships with litellm; fetching it from GitHub at import would stall offline.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    if not getattr(litellm, "_mlintern_configured", False):
        litellm.suppress_debug_info = True  # its "Give Feedback" banner would land on stdout
        litellm.drop_params = True  # local servers reject params they do not know
        logging.getLogger("LiteLLM").setLevel(logging.CRITICAL)
        litellm._mlintern_configured = True  # type: ignore[attr-defined]
    return litellm


def _reason(kind: ErrorClass, exc: BaseException) -> str:
    return f"stream stalled: {exc}" if isinstance(exc, StreamStalled) else retry_reason(kind, exc)


def _placeholder_key(model: str, api_base: str | None) -> str | None:
    # Self-hosted OpenAI-compatible servers ignore the key, but the OpenAI client refuses to
    # send a request without one; a real OPENAI_API_KEY still wins for hosted endpoints.
    if api_base and (model.startswith("openai/") or model.startswith(LOCAL_PREFIXES)):
        return os.environ.get("OPENAI_API_KEY") or "sk-no-key-needed"
    return None
