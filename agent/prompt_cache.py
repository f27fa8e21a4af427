"""Prompt caching: every iteration resends the system prompt and the tool schemas, so cache them.

- Anthropic bills input read from its cache at about a tenth of the price, but only when the
  request marks breakpoints. ``with_cache_marks`` puts ``cache_control: {"type": "ephemeral"}``
  on the system message and on the last tool spec (Anthropic caches tools, then system, so the
  two marks cover both), for Anthropic models reached directly (``anthropic/...``,
  ``claude-...``) or through a router that passes the marks on (OpenRouter, the HF router) when
  the model name says claude.
- OpenAI and most others cache automatically when the prefix is byte-identical between
  requests: the agent keeps system message and tools unchanged for the whole session (the
  context manager never rewrites the first message; tool specs are listed once), and a test
  compares the raw request bodies.

The marks are added to copies made for the request only: the history, the token counts and the
session file never carry them, so switching models mid-session stays clean.
"""

from __future__ import annotations

from typing import Any

EPHEMERAL = {"type": "ephemeral"}
# Providers that forward Anthropic's cache_control to Claude models behind them.
ROUTER_PREFIXES = ("openrouter/", "huggingface/")
ROUTER_HOSTS = ("openrouter.ai", "router.huggingface.co")


def wants_cache_marks(model: str, api_base: str | None = None) -> bool:
    """True when requests to ``model`` should carry Anthropic cache breakpoints."""
    name = model.lower()
    if name.startswith(("anthropic/", "claude-")):
        return True
    via_router = name.startswith(ROUTER_PREFIXES) or any(
        host in (api_base or "").lower() for host in ROUTER_HOSTS
    )
    return via_router and "claude" in name


def with_cache_marks(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """Copies of ``messages`` and ``tools`` with breakpoints on the system message and last tool."""
    marked_messages = list(messages)
    if marked_messages and marked_messages[0].get("role") == "system":
        system = marked_messages[0]
        marked_messages[0] = {**system, "content": _marked_blocks(system.get("content"))}
    marked_tools = None
    if tools:
        marked_tools = [*tools[:-1], {**tools[-1], "cache_control": dict(EPHEMERAL)}]
    return marked_messages, marked_tools


def _marked_blocks(content: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]]
    if isinstance(content, list):
        blocks = [dict(block) for block in content]
    else:
        blocks = [{"type": "text", "text": str(content or "")}]
    if blocks:
        blocks[-1]["cache_control"] = dict(EPHEMERAL)
    return blocks
