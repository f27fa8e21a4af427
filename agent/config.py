"""The agent's configuration: packaged defaults, the user's file, flags.

Precedence, lowest first: ``configs/agent.json`` (shipped), the user config
(``~/.config/mlintern/agent.json``, or the file given with ``--config`` /
``MLINTERN_AGENT_CONFIG``), then command-line flags. Dicts merge key by key, so a user file
that only sets ``"model"`` keeps every other default. Every string may use ``${VAR}`` or
``${VAR:-default}``; expansion happens after merging, so an unused default never needs its
variables set.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from server.errors import UserError

USER_CONFIG_ENV = "MLINTERN_AGENT_CONFIG"
REPO_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ServerConfig(BaseModel):
    """One MCP server in ``mcpServers`` (the format Claude Desktop and Cursor use)."""

    model_config = ConfigDict(extra="ignore")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    transport: Literal["stdio", "http", "streamable-http", "sse"] | None = None
    prefix: str | None = Field(
        default=None, description="Tool-name prefix; default '<server name>__'."
    )
    include_tools: list[str] = Field(default_factory=list, description="Only these (patterns).")
    exclude_tools: list[str] = Field(default_factory=list, description="Never these (patterns).")
    timeout_s: float = Field(default=600.0, gt=0)
    enabled: bool = True

    @model_validator(mode="after")
    def _one_transport(self) -> ServerConfig:
        if bool(self.command) == bool(self.url):
            raise ValueError("give exactly one of 'command' (stdio) or 'url' (HTTP)")
        return self


class BundledServerConfig(BaseModel):
    """The mlintern server, run inside the agent's process."""

    model_config = ConfigDict(extra="ignore")

    enabled: bool = True
    toolsets: list[str] | None = None
    read_only: bool = False
    prefix: str = ""
    include_tools: list[str] = Field(default_factory=list, description="Only these (patterns).")
    exclude_tools: list[str] = Field(default_factory=list, description="Never these (patterns).")


class ApprovalConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # None: "ask" when a person is at the terminal, "deny" when headless.
    mode: Literal["ask", "deny", "yolo"] | None = None
    allow: list[str] = Field(default_factory=list, description="Never ask for these patterns.")
    ask: list[str] = Field(default_factory=list, description="Always ask for these patterns.")
    deny: list[str] = Field(default_factory=list, description="Always refuse these patterns.")


class ShareConfig(BaseModel):
    """Uploading session traces to a Hugging Face dataset (agent/share.py). Always private from
    here: a public share needs ``mlintern-agent share SESSION --repo ID --public`` by hand."""

    model_config = ConfigDict(extra="ignore")

    at_session_end: bool = Field(
        default=False, description="Upload each session (privately) when it ends."
    )
    repo: str | None = Field(
        default=None,
        description="Dataset to upload to; default '<your user>/mlintern-sessions'.",
        pattern=REPO_ID_PATTERN,
    )


class Limits(BaseModel):
    model_config = ConfigDict(extra="ignore")

    max_iterations: int = Field(default=100, ge=1, le=10_000)
    compact_at_ratio: float = Field(default=0.75, gt=0.1, lt=1.0)
    keep_recent_turns: int = Field(default=4, ge=1, le=50)
    summary_max_tokens: int = Field(default=1200, ge=100)
    max_tool_result_chars: int = Field(default=12_000, ge=500)
    context_tokens: int | None = Field(default=None, description="Override the model's window.")
    fallback_context_tokens: int = Field(default=32_768, ge=2048)
    llm_attempts: int = Field(default=5, ge=1, le=20, description="Tries per LLM request.")
    rate_limit_backoff_s: list[float] = Field(default_factory=lambda: [5.0, 15.0, 30.0, 60.0])
    transient_backoff_s: list[float] = Field(default_factory=lambda: [1.0, 3.0, 8.0, 20.0])
    max_retry_wait_s: float = Field(default=120.0, ge=0)
    llm_timeout_s: float = Field(default=600.0, gt=0)
    first_token_timeout_s: float = Field(
        default=120.0, gt=0, description="Longest wait for a streamed call's first chunk."
    )
    stream_idle_timeout_s: float = Field(
        default=60.0, gt=0, description="Longest silence between two chunks of a stream."
    )
    default_output_tokens: int = Field(
        default=8192,
        ge=64,
        description="Output cap when max_output_tokens is unset (and "
        "never more than a quarter of the model's window).",
    )
    stuck_after_rounds: int = Field(
        default=2,
        ge=1,
        le=50,
        description="Rounds a doom-loop nudge may be ignored before the run ends as stuck.",
    )
    max_continuation_nudges: int = Field(default=2, ge=0, le=20)
    max_parallel_tools: int = Field(default=8, ge=1, le=64)


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model: str | None = None
    api_base: str | None = None
    api_key: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    stream: bool = True
    prompt_caching: bool = Field(
        default=True,
        description="Mark cache breakpoints on Anthropic requests (system prompt, tools).",
    )
    reasoning_effort: Literal["low", "medium", "high"] | None = Field(
        default=None, description="Reasoning effort for models that think (litellm's)."
    )
    share: ShareConfig = Field(default_factory=ShareConfig)
    budget_usd: float | None = Field(default=None, ge=0)
    system_prompt: str = "prompts/system.md"
    mcp_servers: dict[str, ServerConfig] = Field(default_factory=dict, alias="mcpServers")
    bundled: BundledServerConfig = Field(default_factory=BundledServerConfig)
    approvals: ApprovalConfig = Field(default_factory=ApprovalConfig)
    limits: Limits = Field(default_factory=Limits)

    def secrets(self) -> list[str]:
        """Values that must never be written anywhere: keys and auth headers."""
        found = [self.api_key] if self.api_key else []
        for server in self.mcp_servers.values():
            for name, value in server.headers.items():
                if _is_credential_header(name):
                    # "Bearer abc" may show up as "abc" alone too: redact both forms.
                    found += [value, value.split(" ", 1)[-1]]
            found += [v for k, v in server.env.items() if _looks_secret_name(k)]
        return [value for value in found if value]


def _is_credential_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in ("authorization", "proxy-authorization", "cookie") or _looks_secret_name(name)


def _looks_secret_name(name: str) -> bool:
    from server.redact import is_secret_name

    return is_secret_name(name.replace("-", "_"))


def user_config_path() -> Path:
    explicit = os.environ.get(USER_CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("mlintern", appauthor=False)) / "agent.json"


def expand_vars(value: Any, env: dict[str, str] | None = None, where: str = "") -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string inside ``value``."""
    env = dict(os.environ) if env is None else env
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if env.get(name):
                return env[name]
            if default is not None:
                return default
            raise UserError(
                f"The agent config uses ${{{name}}} at {where or 'top level'}, but {name} is not "
                f"set. Export it, or write ${{{name}:-default}} to give a fallback."
            )

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: expand_vars(v, env, f"{where}.{k}" if where else k) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_vars(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_user_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Fix the file or move it aside to use the defaults."
        ) from None
    if not isinstance(data, dict):
        raise UserError(f'{path} must hold a JSON object, e.g. {{"model": "openai/gpt-4o"}}.')
    return data


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> AgentConfig:
    """Merge defaults, the user's (or ``path``'s) file and ``overrides``; expand variables."""
    import configs

    data: dict[str, Any] = configs.read_json("agent.json")
    if path is not None:
        user_path = Path(path).expanduser()
        if not user_path.is_file():
            raise UserError(f"Config file {user_path} does not exist (given with --config).")
        data = deep_merge(data, _read_user_file(user_path))
    else:
        user_path = user_config_path()
        if user_path.is_file():
            data = deep_merge(data, _read_user_file(user_path))
    data = deep_merge(data, {k: v for k, v in (overrides or {}).items() if v is not None})
    disabled = {
        name
        for name, spec in (data.get("mcpServers") or {}).items()
        if isinstance(spec, dict) and spec.get("enabled") is False
    }
    for name in disabled:  # a disabled server's ${VARS} need not be set
        data["mcpServers"].pop(name)
    data = expand_vars(data, env)
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise UserError(f"Invalid agent config ({user_path}): {problems}.") from None
