"""First-hour fixes of the agent CLI: help mentions watch, a dead --api-base is a connection
error reported once (no retries), a missing provider key exits 2 with one message, and a failed
tool call gives one stderr line (none with --json, where it is in the JSON)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fakes.llm import ScriptedLLM, call, calls, say
from helpers import REPO, free_port, test_env

pytest_plugins = ["agent_testkit"]


def agent(tmp_path: Path, *args: str, config: dict[str, Any] | None = None, **env: str):
    path = tmp_path / "agent.json"
    path.write_text(json.dumps({"bundled": {"toolsets": ["plan"]}, **(config or {})}))
    environment = test_env(
        tmp_path / "home", MLINTERN_AGENT_CONFIG=str(path), LITELLM_LOCAL_MODEL_COST_MAP="True",
        NO_COLOR="1", COLUMNS="200", PYTHONPATH=str(REPO), **env,
    )  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        env=environment, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip


def test_help_mentions_watch(tmp_path: Path) -> None:
    done = agent(tmp_path, "--help")
    assert done.returncode == 0
    assert "mlintern-agent watch --job JOB_ID" in " ".join(done.stdout.split())


def test_dead_api_base_is_one_connection_error_without_retries(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = agent(tmp_path, "--api-base", dead, "--model", "openai/x", "--no-stream", "hi")
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "Cannot connect" in line]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("error: Cannot connect to the LLM endpoint for openai/x: ")
    assert "HTTP 500" not in done.stderr and "retry" not in done.stderr
    assert elapsed < 30  # not four retries over half a minute (a loose bound, not a benchmark)


def test_missing_provider_key_exits_2_with_one_message(tmp_path: Path) -> None:
    done = agent(tmp_path, "--model", "anthropic/claude-sonnet-4-5", "hi")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mlintern-agent: ANTHROPIC_API_KEY is not set: the model anthropic/claude-sonnet-4-5 "
        "needs it. Fix: export ANTHROPIC_API_KEY=..., set api_key in the agent config, or pick "
        "another --model (a local server with --api-base needs no key)."
    ]
    # positive control: with the key set, the check passes (and the call then fails elsewhere)
    keyed = agent(tmp_path, "--model", "anthropic/claude-sonnet-4-5", "--api-base",
                  f"http://127.0.0.1:{free_port()}", "hi", ANTHROPIC_API_KEY="sk-ant-fake")  # fmt: skip
    assert keyed.returncode == 1 and "ANTHROPIC_API_KEY is not set" not in keyed.stderr


def scripted(llm: ScriptedLLM) -> dict[str, Any]:
    return {
        "model": "openai/scripted",
        "api_base": llm.api_base,
        "limits": {"context_tokens": 32768},  # no "window unknown" warning in the way
    }


def failing_tool_dialogue(llm: ScriptedLLM) -> None:
    llm.add(
        calls(call("plan_get", {"plan_id": "no-such-plan"})),
        say("That plan does not exist."),
    )


def test_failed_tool_call_is_one_stderr_line(llm: ScriptedLLM, tmp_path: Path) -> None:
    failing_tool_dialogue(llm)
    done = agent(tmp_path, "--no-stream", "show the plan", config=scripted(llm))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    about_failure = [line for line in lines if "plan_get" in line and "→" not in line]
    assert len(about_failure) == 1, done.stderr
    assert about_failure[0].lstrip().startswith("✗ plan_get:")


def test_failed_tool_call_with_json_is_only_in_the_json(llm: ScriptedLLM, tmp_path: Path) -> None:
    failing_tool_dialogue(llm)
    done = agent(tmp_path, "--json", "show the plan", config=scripted(llm))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
    events = [json.loads(line) for line in done.stdout.splitlines()]
    [output] = [e for e in events if e["kind"] == "tool_output"]
    assert output["is_error"] and "no-such-plan" in output["output"]
