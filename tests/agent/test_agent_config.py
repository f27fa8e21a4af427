"""The agent config: shipped defaults, the user's file, flags, and ${VAR} expansion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import configs
from agent.cli import build_config, parse_args
from agent.config import expand_vars, load_config
from agent.prompts import Prompts
from server.errors import UserError

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]


def test_defaults_come_from_the_packaged_file() -> None:
    shipped = configs.read_json("agent.json")
    config = load_config()
    assert config.bundled.enabled and config.mcp_servers == {}
    assert config.limits.max_iterations == shipped["limits"]["max_iterations"]
    assert "run_ml_task" in config.bundled.exclude_tools  # the agent never delegates to itself
    prompts = Prompts.load()
    assert "plan_update" in prompts.system and "{pattern}" in prompts.doom_loop
    assert "{count}" in prompts.continuation and "{items}" in prompts.continuation


def test_variables_expand_with_defaults() -> None:
    env = {"HOST": "gpu-box", "EMPTY": ""}
    data = {
        "a": "${HOST}:8000",
        "b": ["${PORT:-11434}"],
        "c": {"d": "x${EMPTY:-fallback}y"},
        "n": 3,
    }
    assert expand_vars(data, env) == {
        "a": "gpu-box:8000",
        "b": ["11434"],
        "c": {"d": "xfallbacky"},
        "n": 3,
    }


def test_an_unset_variable_names_where_it_is_used() -> None:
    with pytest.raises(
        UserError,
        match=r"\$\{TOKEN_X\} at mcpServers.gh.headers.Authorization, but TOKEN_X is not set",
    ):
        expand_vars({"mcpServers": {"gh": {"headers": {"Authorization": "Bearer ${TOKEN_X}"}}}}, {})


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_user_file_merges_over_defaults_and_flags_over_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = write(
        tmp_path / "agent.json",
        {
            "model": "ollama/llama3",
            "api_base": "${OLLAMA_URL:-http://127.0.0.1:11434}",
            "limits": {"max_iterations": 7},
            "approvals": {"allow": ["plan_*"]},
            "mcpServers": {
                "remote": {
                    "url": "https://mcp.example/mcp",
                    "headers": {"Authorization": "Bearer ${REMOTE_TOKEN}"},
                },
                "off": {"command": "x", "env": {"K": "${NOT_SET_ANYWHERE}"}, "enabled": False},
            },
        },
    )
    monkeypatch.setenv("MLINTERN_AGENT_CONFIG", str(user))
    monkeypatch.setenv("REMOTE_TOKEN", "remote-secret-123456")
    config = build_config(
        parse_args(["--model", "openai/gpt-4o", "--approve", "jobs_*", "--yolo", "task"])
    )
    assert config.model == "openai/gpt-4o"  # the flag wins
    assert config.api_base == "http://127.0.0.1:11434"  # the file, with its default
    assert config.limits.max_iterations == 7 and config.limits.keep_recent_turns == 4  # merged
    assert config.approvals.allow == ["plan_*", "jobs_*"] and config.approvals.mode == "yolo"
    assert set(config.mcp_servers) == {"remote"}  # a disabled server's variables need not be set
    assert (
        "remote-secret-123456" in config.secrets()
    )  # so sessions redact it, with or without "Bearer"


def test_config_flag_replaces_the_user_file_and_errors_are_clear(tmp_path: Path) -> None:
    explicit = write(tmp_path / "mine.json", {"limits": {"max_iterations": 3}})
    assert load_config(explicit).limits.max_iterations == 3
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"model": ')
    with pytest.raises(UserError, match="not valid JSON"):
        load_config(broken)
    bad = write(tmp_path / "bad.json", {"mcpServers": {"x": {"args": ["no command or url"]}}})
    with pytest.raises(UserError, match="exactly one of 'command'"):
        load_config(bad)
