"""Prompt caches the way providers run them, so the scripted LLM reports cached-token usage.

- Anthropic (explicit): a request marks breakpoints with ``cache_control``. The prefix up to each
  breakpoint, in Anthropic's order (tools, then system, then messages), is looked up; the longest
  one seen in an earlier request is *read* from the cache, and the rest up to the last breakpoint
  is *written* to it. A request without breakpoints caches nothing.
- OpenAI and others (automatic, opt-in with ``ScriptedLLM(auto_cache=True)``): when the leading
  system message and the tools are byte-identical to an earlier request's, they count as cached
  (``prompt_tokens_details.cached_tokens``).

Not modelled: minimum cacheable lengths, the five-minute lifetime, 128-token granularity.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fakes.llm_wire import CHARS_PER_TOKEN


def _canonical(block: Any) -> str:
    # A breakpoint marker is not content: the same block marked or not is the same prefix.
    if isinstance(block, dict):
        block = {k: v for k, v in block.items() if k != "cache_control"}
    return json.dumps(block, sort_keys=True)


def _marked(block: Any) -> bool:
    return isinstance(block, dict) and "cache_control" in block


def anthropic_segments(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """(canonical text, carries a breakpoint) for every cacheable unit, in cache order."""
    segments = [(_canonical(tool), _marked(tool)) for tool in body.get("tools") or []]
    system = body.get("system") or []
    if isinstance(system, str):
        system = [{"type": "text", "text": system}]
    segments += [(_canonical(block), _marked(block)) for block in system]
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        segments += [(message.get("role", "") + _canonical(b), _marked(b)) for b in blocks]
    return segments


def _key(texts: list[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()


class PromptCache:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def anthropic(self, body: dict[str, Any]) -> tuple[int, int]:
        """(tokens read from the cache, tokens written to it) for one Messages request."""
        segments = anthropic_segments(body)
        marks = [i for i, (_, marked) in enumerate(segments) if marked]
        if not marks:
            return 0, 0
        texts = [text for text, _ in segments]
        keys = {i: _key(texts[: i + 1]) for i in marks}

        def tokens(upto: int) -> int:
            return sum(len(t) for t in texts[: upto + 1]) // CHARS_PER_TOKEN

        hit = next((i for i in reversed(marks) if keys[i] in self.seen), None)
        read = tokens(hit) if hit is not None else 0
        self.seen.update(keys.values())
        return read, tokens(marks[-1]) - read

    def automatic(self, body: dict[str, Any]) -> int:
        """Tokens an automatically caching provider serves from cache for this request."""
        messages = body.get("messages") or []
        head = messages[:1] if messages and messages[0].get("role") == "system" else []
        text = json.dumps(head) + json.dumps(body.get("tools") or [])
        key = _key([text])
        hit = key in self.seen
        self.seen.add(key)
        return len(text) // CHARS_PER_TOKEN if hit else 0
