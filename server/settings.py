"""The one settings object of mlintern.

Every value can come from the environment (prefix ``MLINTERN_``) or a ``.env`` file in the
working directory. Remote endpoints are settings so that tests point them at loopback fakes.
Tokens that belong to other services keep their conventional names (HF_TOKEN, GITHUB_TOKEN,
E2B_API_KEY) and are held as SecretStr so they never print by accident.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The events server/notify.py sends (kept here: settings imports nothing of the server).
NOTIFY_KINDS = ("verdict_failed", "stalled", "stuck", "restart", "job_end", "approval_waiting")

TOOLSET_NAMES_HELP = "comma-separated toolkit names, e.g. 'hub,jobs,plan'"

# List settings are read as text (comma-separated, or a JSON list) by ``_split_commas``:
# NoDecode stops pydantic-settings from JSON-decoding them first, which crashes on `a.example`.
CommaList = Annotated[list[str], NoDecode]


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("mlintern", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MLINTERN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- where state lives -------------------------------------------------------------
    home: Path = Field(default_factory=_default_home, description="Directory for all state.")

    roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Directories (comma-separated) tools may read and write besides the sandbox "
        "and job workspaces and the working directory; `mlintern-server --root DIR` adds more.",
    )

    # --- server composition -----------------------------------------------------------
    # NoDecode: lists come from the environment as "a,b" (JSON is accepted too, see below).
    toolsets: Annotated[list[str] | None, NoDecode] = Field(
        default=None, description=f"Only mount these toolkits ({TOOLSET_NAMES_HELP})."
    )
    read_only: bool = Field(default=False, description="Register no tool that changes anything.")
    max_output_chars: int = Field(
        default=20_000, ge=1_000, le=1_000_000, description="Cap on any tool's text output."
    )

    # --- HTTP transport -----------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    path: str = "/mcp"
    auth_token: SecretStr | None = Field(
        default=None, description="Bearer token HTTP clients must send."
    )
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    http_request_read_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="A client must send each whole request (headers and body) within this "
        "time, or its connection is closed (guards against slowloris clients).",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra Host header values to accept."
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra browser Origins to accept."
    )

    sse_retry_ms: int = Field(
        default=2000,
        ge=100,
        le=60_000,
        description="How soon a client whose SSE stream dropped should reconnect (with "
        "Last-Event-ID) to be sent what it missed.",
    )
    sse_events_max: int = Field(
        default=20_000,
        ge=100,
        le=10_000_000,
        description="Most SSE events kept in the state DB for resuming dropped streams.",
    )
    sse_events_max_age_s: float = Field(
        default=3600.0, gt=0, le=7 * 86400, description="How long a dropped stream can be resumed."
    )

    approval_ttl_s: float = Field(
        default=3600.0,
        gt=0,
        le=7 * 86400,
        description="How long a person may take to answer an approval asked through an "
        "input-required result (2026-07-28 clients); past it the state expires and the call is "
        "refused, so an abandoned run does not wait forever.",
    )
    request_state_key: SecretStr | None = Field(
        default=None,
        description="Key sealing input-required state; set the same one on every replica "
        "behind a load balancer (default: a key held only by this process).",
    )

    # --- remote endpoints (tests point these at 127.0.0.1) ------------------------------
    hf_endpoint: str = Field(
        default="https://huggingface.co",
        validation_alias=AliasChoices("MLINTERN_HF_ENDPOINT", "HF_ENDPOINT"),
    )
    datasets_server_url: str = "https://datasets-server.huggingface.co"
    semantic_scholar_url: str = "https://api.semanticscholar.org"
    arxiv_url: str = "https://arxiv.org"
    github_api_url: str = "https://api.github.com"
    docs_url: str = "https://huggingface.co/docs"
    http_timeout_s: float = Field(default=30.0, gt=0, le=600)
    github_max_retries: int = Field(
        default=3, ge=0, le=10, description="GitHub retries on rate limits, 5xx, lost connections."
    )
    github_max_wait_s: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="Longest wait GitHub may ask for (Retry-After, rate-limit reset) before "
        "a GitHub tool gives up and reports it.",
    )

    # --- credentials of other services (never printed, never forwarded elsewhere) -------
    hf_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MLINTERN_HF_TOKEN", "HF_TOKEN")
    )
    github_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MLINTERN_GITHUB_TOKEN", "GITHUB_TOKEN")
    )
    e2b_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MLINTERN_E2B_API_KEY", "E2B_API_KEY")
    )
    semantic_scholar_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "MLINTERN_SEMANTIC_SCHOLAR_API_KEY", "SEMANTIC_SCHOLAR_API_KEY"
        ),
        description="Optional; raises Semantic Scholar's rate limit. Sent only to that API.",
    )

    # --- toolkit knobs ------------------------------------------------------------------
    sandbox_allow_unisolated: bool = Field(
        default=False,
        description="Accept local sandboxes without namespaces (no bubblewrap: rlimits only, "
        "the host's files and loopback reachable) and network=True sandboxes sharing the "
        "host's network (no slirp4netns). Off: sandbox_create refuses instead.",
    )
    sandbox_disk_quota_mb: int = Field(
        default=2048, ge=16, le=1 << 20, description="Disk space each local workspace may use."
    )
    sandbox_max_files: int = Field(
        default=20000,
        ge=256,
        le=1 << 24,
        description="Files (inodes) each local workspace may hold (rounded up a little by ext4).",
    )
    sandbox_bwrap: str = Field(
        default="bwrap", description="bubblewrap executable (name on PATH or absolute path)."
    )
    sandbox_slirp4netns: str = Field(
        default="slirp4netns",
        description="slirp4netns executable: gives network=True sandboxes the internet but not "
        "the host's loopback. Without it they share the host's network (with a warning).",
    )
    e2b_api_url: str | None = Field(
        default=None, description="E2B control-plane API (default: the SDK's, api.e2b.app)."
    )
    e2b_sandbox_url: str | None = Field(
        default=None, description="E2B sandbox (envd) endpoint override; tests use loopback."
    )
    jobs_isolation: Literal["bwrap", "off"] = Field(
        default="bwrap",
        description="How local jobs run. 'bwrap' (default): like a sandbox: bubblewrap, the "
        "system read-only, only the working and metrics folders writable, no MLINTERN_HOME, "
        "no token or credential files, the internet through slirp4netns but never this "
        "machine, private or link-local addresses, GPUs passed through, uid 65534 when the "
        "server is root, a cgroup per job. 'off' (UNSAFE for untrusted code): the server's "
        "user, files and network.",
    )
    jobs_max_concurrent: int = Field(
        default=2, ge=1, le=256, description="Local jobs running at once; more are queued."
    )
    stall_factor: float = Field(
        default=5.0,
        ge=1,
        le=1000,
        description="A running job is stalled after this many times its usual metric interval "
        "without a new log line or metric step (and at least stall_floor_s).",
    )
    stall_floor_s: float = Field(
        default=300.0, ge=0, le=7 * 86400, description="Least silence that counts as a stall."
    )
    job_stuck_after_s: float = Field(
        default=1800.0,
        ge=0,
        le=30 * 86400,
        description="A job queued (or waiting for the backend to schedule it) longer is stuck.",
    )
    notify_webhooks: SecretStr | None = Field(
        default=None,
        description="Webhook URL(s), comma-separated, told about failed verdicts, stalled or "
        "stuck jobs, restarts, job ends and runs waiting for approval. A secret: Slack and "
        "Discord URLs carry their token. Unset: no notifications.",
    )
    notify_format: Literal["auto", "slack", "discord", "json"] = Field(
        default="auto",
        description="Payload style: slack ({text, blocks}), discord ({content}) or json (the "
        "event's fields); auto picks by each URL's host (hooks.slack.com, discord.com), else json.",
    )
    notify_events: CommaList = Field(
        default_factory=lambda: list(NOTIFY_KINDS),
        description="Which events to send (comma-separated): " + ", ".join(NOTIFY_KINDS) + ".",
    )
    notify_min_interval_s: float = Field(
        default=900.0,
        ge=0,
        le=7 * 86400,
        description="Least time between two notifications of one kind about one job or run "
        "(a job's end is sent once).",
    )
    notify_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Time limit of one webhook delivery attempt."
    )
    notify_queue_max: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Notifications waiting for delivery; beyond it new ones are dropped (logged).",
    )
    ray_address: str = Field(
        default="http://127.0.0.1:8265", description="Ray Jobs API (dashboard) address."
    )
    hf_jobs_namespace: str | None = Field(
        default=None, description="User or org that runs hf jobs (default: the token's user)."
    )
    trackio_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("MLINTERN_TRACKIO_DIR", "TRACKIO_DIR"),
        description="trackio's local store (default: $HF_HOME/trackio), read by experiments_*.",
    )
    agent_model: str = Field(default="anthropic/claude-sonnet-4-5", description="Agent LLM.")
    research_model: str | None = Field(
        default=None, description="Cheaper LLM for the research sub-agent."
    )
    agent_config: Path | None = Field(default=None, description="Agent config JSON path.")
    tasks_allow_yolo: bool = Field(
        default=False,
        description="Let run_ml_task skip approvals: approval='yolo', and mutating tools for "
        "hosts that cannot ask their user (no elicitation). Off: such calls are refused.",
    )
    tasks_max_running: int = Field(
        default=4, ge=1, le=64, description="Delegated agent runs (run_ml_task) at once."
    )
    docs_index_ttl_s: float = Field(
        default=7 * 24 * 3600, ge=0, description="Rebuild a library's docs index after this age."
    )
    citations_cache_ttl_s: float = Field(
        default=24 * 3600, ge=0, description="Reuse cached Semantic Scholar answers this long."
    )
    datasets_cache_max_bytes: int = Field(
        default=10 * 1024**3,
        ge=1024**2,
        description="Disk budget for Hub parquet files downloaded by datasets_inspect queries.",
    )
    datasets_memory_limit_mb: int = Field(
        default=1024, ge=64, le=1_048_576, description="DuckDB memory cap of one datasets query."
    )
    datasets_threads: int = Field(default=2, ge=1, le=256, description="DuckDB threads per query.")
    datasets_spill_max_mb: int = Field(
        default=2048,
        ge=0,
        le=10_485_760,
        description="Disk a datasets query may spill to (under MLINTERN_HOME/cache).",
    )
    datasets_query_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="Time limit of one datasets_inspect SQL statement."
    )

    @field_validator(
        "toolsets", "allowed_hosts", "allowed_origins", "roots", "notify_events", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """'a,b', ' a , b ' and '["a", "b"]' all mean the list [a, b]."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:
                    pass  # not JSON after all: split it like any other list
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("notify_events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = [kind for kind in value if kind not in NOTIFY_KINDS]
        if unknown:
            raise ValueError(f"unknown events {unknown}: choose from {', '.join(NOTIFY_KINDS)}")
        return value

    @field_validator("path")
    @classmethod
    def _leading_slash(cls, value: str) -> str:
        return value if value.startswith("/") else "/" + value

    def secret_values(self) -> list[str]:
        """Every credential this process holds, for redaction wherever output leaves it."""
        return [
            value.get_secret_value()
            for value in self.__dict__.values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]

    @property
    def state_path(self) -> Path:
        return self.home / "state.sqlite3"
