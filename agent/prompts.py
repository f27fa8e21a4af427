"""The agent's prompts, shipped as Markdown under configs/prompts/ (read with configs.read_text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from server.errors import UserError


@dataclass(frozen=True)
class Prompts:
    system: str
    compaction: str
    doom_loop: str
    continuation: str
    degenerate: str = field(default_factory=lambda: _read("prompts/degenerate.md"))

    @classmethod
    def load(cls, system_prompt: str = "prompts/system.md") -> Prompts:
        import configs

        return cls(
            system=_read(system_prompt),
            compaction=configs.read_text("prompts/compaction.md"),
            doom_loop=configs.read_text("prompts/doom_loop.md"),
            continuation=configs.read_text("prompts/continue.md"),
        )


def _read(name: str) -> str:
    """A packaged prompt (``prompts/x.md``) or, for a user's own prompt, a file path."""
    import configs

    candidate = Path(name).expanduser()
    if candidate.is_absolute() or name.startswith(("./", "~")):
        if not candidate.is_file():
            raise UserError(f"system_prompt file {candidate} does not exist.")
        return candidate.read_text(encoding="utf-8")
    try:
        return configs.read_text(name)
    except FileNotFoundError:
        raise UserError(
            f"No packaged prompt {name!r}; use 'prompts/system.md' or an absolute path."
        ) from None


def system_message(prompt: str, server_instructions: dict[str, str]) -> dict[str, str]:
    """The system prompt plus what each connected server says about its own tools."""
    parts = [prompt.strip()]
    for name, text in server_instructions.items():
        parts.append(f"## Tools from the {name!r} server\n{text.strip()[:3000]}")
    return {"role": "system", "content": "\n\n".join(parts)}
