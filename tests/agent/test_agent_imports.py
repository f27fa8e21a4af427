"""Heavy imports stay lazy: litellm only when a call is made; the server never imports the agent."""

from __future__ import annotations

import json
import subprocess
import sys

AGENT_MODULES = [
    "agent.cli",
    "agent.runtime",
    "agent.loop",
    "agent.llm",
    "agent.context",
    "agent.compaction",
    "agent.doom_loop",
    "agent.approvals",
    "agent.sessions",
    "agent.mcp_connections",
    "agent.interactive",
    "agent.render",
    "agent.llm_reading",
    "agent.prompt_cache",
    "agent.effort",
    "agent.share",
    "agent.trace_export",
]


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(output.stdout.splitlines()[-1])


def test_agent_modules_do_not_import_litellm() -> None:
    modules = loaded_after("\n".join(f"import {name}" for name in AGENT_MODULES))
    assert "litellm" not in modules
    assert "openai" not in modules


def test_cli_help_imports_neither_litellm_nor_fastmcp() -> None:
    modules = loaded_after(
        "import agent.cli\ntry:\n    agent.cli.parse_args(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert "litellm" not in modules and "fastmcp" not in modules


def test_building_the_server_imports_no_agent_module(tmp_path: object) -> None:
    code = (
        "from server.app import build_server\n"
        "from server.settings import Settings\n"
        f"build_server(Settings(home={str(tmp_path)!r}))"
    )
    modules = loaded_after(code)
    assert [m for m in modules if m == "agent" or m.startswith("agent.")] == []
    assert "litellm" not in modules
