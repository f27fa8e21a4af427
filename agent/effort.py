"""Reasoning effort: how hard a thinking model thinks (``--effort``, ``reasoning_effort`` in the
config, ``/effort``), passed as litellm's ``reasoning_effort``.

Models differ in whether they take it, and litellm only knows some of them (it drops the
parameter silently for models its map says cannot reason). For the others, the provider's
answer is the truth: a 400 that names the parameter means "not for this model". The agent then
drops it for that model for the rest of the session, retries the same request once without it,
and says so once — a model that cannot think harder must not fail the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Effort = Literal["low", "medium", "high"]
EFFORTS: tuple[Effort, ...] = ("low", "medium", "high")

# How providers name the parameter in a refusal: OpenAI and vLLM name reasoning_effort itself;
# for Anthropic litellm translates it into ``thinking``.
_NAMES = ("reasoning_effort", "reasoning effort", "reasoning", "thinking")
_REFUSALS = (
    "unsupported",
    "not supported",
    "does not support",
    "unrecognized",
    "unknown",
    "not permitted",
    "not allowed",
    "extra inputs",
    "invalid",
)


def rejects_effort(exc: BaseException) -> bool:
    """True when ``exc`` is the provider refusing the reasoning-effort parameter."""
    if getattr(exc, "status_code", None) not in (400, 422):
        return False
    text = str(exc).lower()
    return any(name in text for name in _NAMES) and any(word in text for word in _REFUSALS)


def parse_effort(value: str | None) -> Effort | None:
    """``low``/``medium``/``high``; ``off``/``none``/empty clear it. Raises ValueError otherwise."""
    lowered = (value or "").strip().lower()
    if lowered in ("", "off", "none", "default"):
        return None
    if lowered not in EFFORTS:
        raise ValueError(f"effort must be one of {', '.join(EFFORTS)} or off, not {value!r}")
    return lowered  # type: ignore[return-value]


@dataclass
class EffortSetting:
    """The chosen effort, and the models that refused it in this session."""

    effort: Effort | None = None
    refused_by: set[str] = field(default_factory=set)

    def for_model(self, model: str) -> Effort | None:
        return None if model in self.refused_by else self.effort

    def refuse(self, model: str) -> str:
        """Remember that ``model`` refused; returns the one notice for the user."""
        self.refused_by.add(model)
        return (
            f"{model} does not accept a reasoning effort; continuing without it for this "
            f"model (effort {self.effort} stays set for other models)."
        )


def keeps_thinking_blocks(model: str) -> bool:
    """Anthropic's API needs a thinking turn's blocks back; other APIs refuse the extra key."""
    return model.lower().startswith(("anthropic/", "claude-"))


def without_thinking_blocks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not any("thinking_blocks" in m for m in messages):
        return messages
    return [{k: v for k, v in m.items() if k != "thinking_blocks"} for m in messages]
