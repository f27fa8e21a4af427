"""``mlintern-agent`` as a user runs it: a real process, a real mlintern-server over stdio."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fakes.llm import Reply, ScriptedLLM, call, calls, fail, say
from helpers import running, server_cmd, test_env

from server.state import StateStore
from toolkits.plan.core import get_plan

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]

DONE_TODOS = [
    {"id": "1", "content": "look at the data", "status": "completed"},
    {"id": "2", "content": "write the report", "status": "completed"},
]


def agent_cmd(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("mlintern-agent")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "agent.cli", *args]


def agent_env(tmp_path: Path, llm: ScriptedLLM, **config: Any) -> dict[str, str]:
    """A child environment whose user config points the agent at the scripted model."""
    data: dict[str, Any] = {
        "model": "openai/scripted",
        "api_base": llm.api_base,
        "bundled": {"toolsets": ["plan"]},
        "limits": {"transient_backoff_s": [0.01], "llm_attempts": 2},
    }
    data.update(config)
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(data))
    return test_env(
        tmp_path / "home",
        MLINTERN_AGENT_CONFIG=str(path),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        NO_COLOR="1",
        COLUMNS="200",
    )


def run(
    cmd: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with running(cmd, env, stdin=subprocess.PIPE, **pipes) as proc:
        out, err = proc.communicate(stdin, timeout=timeout)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_headless_run_against_mlintern_server_over_stdio(llm: ScriptedLLM, tmp_path: Path) -> None:
    home = tmp_path / "home"
    command, *args = server_cmd("--toolsets", "plan")
    # A child server gets an allow-listed environment: its settings are named explicitly.
    server_env = {"MLINTERN_HOME": str(home), "FASTMCP_SHOW_SERVER_BANNER": "false"}
    servers = {"mlintern": {"command": command, "args": args, "prefix": "", "env": server_env}}
    env = agent_env(tmp_path, llm, bundled={"enabled": False}, mcpServers=servers)

    def saw_plan(request: dict) -> bool | str:
        results = [m["content"] for m in request["messages"] if m.get("role") == "tool"]
        return any("2/2 completed" in r for r in results) or repr(results)

    llm.add(
        calls(call("plan_update", {"plan_id": "e2e", "todos": DONE_TODOS})),
        calls(call("plan_get", {"plan_id": "e2e"})),
        say("Report: both steps are done.", expect=saw_plan),
    )
    done = run(agent_cmd("make and check a plan"), env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Report: both steps are done.\n"  # only the answer on stdout
    assert "→ plan_update" in done.stderr and "✓ plan_get" in done.stderr
    # The tools really ran in the stdio server: its state file holds the plan.
    plan = get_plan(StateStore(home / "state.sqlite3"), "e2e")
    assert [t.id for t in plan.todos] == ["1", "2"] and plan.counts["completed"] == 2
    # The server's own instructions reached the model's system prompt.
    assert (
        "mlintern gives you the hands of an ML engineer" in llm.requests[0].messages[0]["content"]
    )


def test_json_events_and_the_iteration_cap_exit_code(llm: ScriptedLLM, tmp_path: Path) -> None:
    llm.add(calls(call("plan_get", {})))
    done = run(agent_cmd("--json", "--max-iterations", "1", "loop"), agent_env(tmp_path, llm))
    assert done.returncode == 3, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "iteration" and kinds[-1] == "done"
    assert {"tool_call", "tool_output"} <= set(kinds)
    assert (
        events[-1]["reason"] == "max_iterations"
        and "Stopped after 1 iterations" in events[-1]["final_text"]
    )


def test_failures_exit_non_zero_with_a_message(llm: ScriptedLLM, tmp_path: Path) -> None:
    llm.add(fail(500), fail(502))
    failed = run(agent_cmd("--no-stream", "hi"), agent_env(tmp_path, llm))
    assert failed.returncode == 1
    assert "kept failing" in failed.stderr and "Traceback" not in failed.stderr
    assert len(llm.requests) == 2

    bad = run(agent_cmd("--config", str(tmp_path / "nope.json"), "hi"), agent_env(tmp_path, llm))
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_resume_after_sigkill(llm: ScriptedLLM, tmp_path: Path) -> None:
    env = agent_env(tmp_path, llm)
    sessions = tmp_path / "home" / "sessions"
    llm.add(
        calls(call("plan_update", {"plan_id": "k", "todos": DONE_TODOS})),
        Reply(text="never delivered", delay_s=60, label="hang until killed"),
    )
    with running(
        agent_cmd("plan, then keep going"), env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        deadline = time.monotonic() + 60
        while len(llm.requests) < 2:  # the model is "thinking" about turn two
            assert proc.poll() is None and time.monotonic() < deadline, "agent died or stalled"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    [session_file] = sessions.glob("*.jsonl")
    assert "2/2 completed" in session_file.read_text()  # the finished turn was on disk already

    def continued(request: dict) -> bool | str:
        contents = [str(m.get("content")) for m in request["messages"]]
        return (
            contents[1] == "plan, then keep going" and any("2/2 completed" in c for c in contents)
        ) or repr(contents)

    llm.add(say("Picked up where I stopped: the plan is complete.", expect=continued))
    resumed = run(agent_cmd("--resume", session_file.stem, "--headless"), env)
    assert resumed.returncode == 0, resumed.stderr
    assert "Picked up where I stopped" in resumed.stdout
    assert len(list(sessions.glob("*.jsonl"))) == 1  # the same session continued


def test_interactive_session_with_slash_commands(llm: ScriptedLLM, tmp_path: Path) -> None:
    llm.add(say("Hi! What shall we train?"))
    commands = "/help\nhello\n/status\n/plan\n/yolo\n/model openai/other\n/resume\n/bogus\n/quit\n"
    done = run(agent_cmd(), agent_env(tmp_path, llm), stdin=commands)
    assert done.returncode == 0, done.stderr
    assert "Hi! What shall we train?" in done.stdout
    err = done.stderr
    assert "/compact" in err and "/resume [ID]" in err  # /help
    assert "model       openai/scripted" in err and "compacts at" in err  # /status
    assert "Plan 'default' (v0)" in err  # /plan
    assert "yolo on" in err and "model: openai/other" in err
    assert "hello" in err  # /resume lists the session by its first request
    assert "unknown command /bogus" in err


def test_ctrl_c_stops_a_headless_run_cleanly(llm: ScriptedLLM, tmp_path: Path) -> None:
    llm.add(Reply(text="never delivered", delay_s=60, label="a slow model"))
    cmd = agent_cmd("think about it")
    with running(
        cmd, agent_env(tmp_path, llm), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + 60
        while not llm.requests:
            assert proc.poll() is None and time.monotonic() < deadline, "agent died or stalled"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Cancelled by the user" in err
    [session_file] = (tmp_path / "home" / "sessions").glob("*.jsonl")
    last = json.loads(session_file.read_text().splitlines()[-1])
    assert last["type"] == "done" and last["reason"] == "cancelled"
