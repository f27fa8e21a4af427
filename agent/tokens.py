"""Token counts of what a request actually carries: its messages and tool specs as JSON.

Providers render tool specs into the prompt, so the JSON schemas a request sends cost tokens like
any text. Counting that JSON with a real tokenizer (cl100k, which litellm ships, so nothing is
downloaded) is what tells the context manager where the window really ends; character
heuristics and litellm's token_counter (which counts tool names and descriptions but not the
schemas) undercounted the default tool list by about half.
"""

from __future__ import annotations

import functools
import json
from typing import Any

# What a chat API adds around each message (role markers, separators).
PER_MESSAGE_TOKENS = 4


@functools.cache
def _encoding() -> Any:
    from agent.llm import import_litellm

    import_litellm()  # offline configuration first
    from litellm.litellm_core_utils.default_encoding import encoding

    return encoding


def count_json_tokens(payload: Any) -> int:
    """Tokens of ``payload`` serialised as JSON, the way it travels in a request."""
    text = json.dumps(payload, ensure_ascii=False)
    return len(_encoding().encode(text, disallowed_special=()))


def count_message_tokens(messages: list[dict[str, Any]]) -> int:
    return count_json_tokens(messages) + PER_MESSAGE_TOKENS * len(messages) if messages else 0


def count_request_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    return count_message_tokens(messages) + (count_json_tokens(tools) if tools else 0)
