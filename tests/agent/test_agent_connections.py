"""MCP connections: names, annotations, per-server credentials over HTTP, stdio environments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from agent_helpers import running_agent, serve_asgi
from fakes.llm import ScriptedLLM, call, calls, say
from fakes.loopback import Recorder
from fastmcp import Context, FastMCP

from agent.config import load_config
from agent.mcp_connections import BUNDLED, MCPConnections, open_connections
from server.app import build_server, package_version
from server.errors import UserError
from server.http import build_http_app
from server.settings import Settings

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]

ALPHA_TOKEN = "alpha-token-0123456789abcdef"
BETA_TOKEN = "beta-token-fedcba9876543210"


async def test_bundled_tools_keep_their_names_and_others_are_prefixed(
    settings: Settings, lab: FastMCP
) -> None:
    config = load_config(overrides={"bundled": {"toolsets": ["plan"]}})
    connections = await open_connections(config, settings, extra={"lab": lab})
    try:
        assert {"plan_get", "plan_update"} <= set(connections.tools)
        assert {"lab__submit", "lab__status", "lab__delete"} <= set(connections.tools)
        plan_update = connections.tools["plan_update"]
        assert plan_update.server == BUNDLED and plan_update.remote_name == "plan_update"
        assert (
            not plan_update.read_only and not plan_update.destructive and not plan_update.open_world
        )
        assert connections.tools["lab__status"].read_only
        assert connections.tools["lab__delete"].destructive
        schema = connections.tools["lab__submit"].schema()
        assert (
            schema["function"]["name"] == "lab__submit"
            and "name" in schema["function"]["parameters"]["properties"]
        )
        outcome = await connections.call("lab__submit", {"name": "n"})
        assert not outcome.is_error and "lab-job-1" in outcome.text
        failed = await connections.call("lab__submit", {})  # the server validates arguments
        assert failed.is_error and "name" in failed.text
    finally:
        await connections.aclose()


async def test_a_server_passed_in_is_narrowed_by_the_config(settings: Settings) -> None:
    # run_ml_task hands the agent the server it runs in; the config still decides what is seen.
    server = build_server(settings.model_copy(update={"toolsets": ["plan"]}))
    read_only = load_config(overrides={"bundled": {"read_only": True}})
    connections = await open_connections(read_only, settings, bundled=server)
    assert set(connections.tools) == {"plan_get"}
    await connections.aclose()
    only_update = load_config(overrides={"bundled": {"include_tools": ["*_update"]}})
    connections = await open_connections(only_update, settings, bundled=server)
    assert set(connections.tools) == {"plan_update"}
    await connections.aclose()


async def test_tools_without_annotations_are_treated_as_risky_and_collisions_refused() -> None:
    bare = FastMCP("bare")

    @bare.tool
    def mystery() -> str:
        """Does something."""
        return "?"

    async with MCPConnections() as connections:
        await connections.add_in_process("bare", bare, "x_")
        mystery_spec = connections.tools["x_mystery"]
        # MCP's defaults: not read-only, destructive, open world.
        assert not mystery_spec.read_only and mystery_spec.destructive and mystery_spec.open_world
        with pytest.raises(UserError, match="offered by both 'bare' and 'again'"):
            await connections.add_in_process("again", bare, "x_")


async def test_unreachable_server_is_an_actionable_error(settings: Settings) -> None:
    config = load_config(
        overrides={
            "bundled": {"enabled": False},
            "mcpServers": {"gone": {"url": "http://127.0.0.1:9/mcp"}},
        }
    )
    with pytest.raises(
        UserError, match=r"Could not connect to MCP server 'gone' \(http: http://127.0.0.1:9/mcp\)"
    ):
        await open_connections(config, settings)


def mlintern_http(home: Path, token: str) -> Recorder:
    settings = Settings(home=home, auth_token=token, toolsets=["plan"])  # type: ignore[call-arg]
    return Recorder(build_http_app(build_server(settings), settings))


async def test_each_http_server_gets_only_its_own_auth_header(
    llm: ScriptedLLM, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHA_MCP_TOKEN", ALPHA_TOKEN)
    alpha, beta = (
        mlintern_http(tmp_path / "alpha", ALPHA_TOKEN),
        mlintern_http(tmp_path / "beta", BETA_TOKEN),
    )
    with serve_asgi(alpha) as alpha_url, serve_asgi(beta) as beta_url:
        servers = {
            # One token from the environment through ${VAR}, one written in the config.
            "alpha": {
                "url": f"{alpha_url}/mcp",
                "headers": {"Authorization": "Bearer ${ALPHA_MCP_TOKEN}"},
            },
            "beta": {
                "url": f"{beta_url}/mcp",
                "headers": {"Authorization": f"Bearer {BETA_TOKEN}"},
            },
        }
        todos = [{"id": "1", "content": "x", "status": "completed"}]
        llm.add(
            calls(call("alpha__plan_update", {"todos": todos}), call("beta__plan_get", {})),
            say("both answered"),
        )
        config = {"bundled": {"enabled": False}, "mcpServers": servers}
        async with running_agent(llm, settings, config=config) as (agent, events):
            result = await agent.run("use both")
            session_file = agent.session.path if agent.session else None
    assert result.reason == "completed"
    assert [e.is_error for e in events.of("tool_output")] == [False, False]
    for recorder, own, other in ((alpha, ALPHA_TOKEN, BETA_TOKEN), (beta, BETA_TOKEN, ALPHA_TOKEN)):
        mcp_requests = [r for r in recorder.requests if r.path.startswith("/mcp")]
        assert mcp_requests, "the server was never called"
        assert all(r.headers.get("authorization") == f"Bearer {own}" for r in mcp_requests)
        assert not any(other in str(r.headers) for r in recorder.requests)
    # Neither token went to the model, nor into the session file.
    for request in llm.requests:
        assert ALPHA_TOKEN not in str(request.headers) + str(request.body)
        assert BETA_TOKEN not in str(request.headers) + str(request.body)
    assert session_file is not None
    saved = session_file.read_text()
    assert ALPHA_TOKEN not in saved and BETA_TOKEN not in saved


ENV_PROBE = '''
import os
from fastmcp import FastMCP

probe = FastMCP("probe")


@probe.tool
def env_names() -> list[str]:
    """Names of the environment variables this server was started with."""
    return sorted(os.environ)


if __name__ == "__main__":
    probe.run(transport="stdio", show_banner=False)
'''


PLANTED = {
    "AZURE_OPENAI_KEY": "azure-key-0123456789abcdef",
    "GH_PAT": "ghp_plantedPlantedPlanted0123456789abcd",
    "MY_DB_PASS": "hunter2-but-longer",
    "DATABASE_URL": "postgres://app:s3cr3t-pw@db.internal:5432/prod",
}


async def test_stdio_servers_get_no_credentials_except_their_own(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "probe_server.py"
    script.write_text(ENV_PROBE)
    monkeypatch.setenv("LAB_API_KEY", "sk-live-should-not-travel")
    monkeypatch.setenv("PROBE_TOKEN", "probe-token-0123456789")
    # Credentials whose names a denylist would not recognise.
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    config = load_config(
        overrides={
            "bundled": {"enabled": False},
            "mcpServers": {
                "probe": {
                    "command": sys.executable,
                    "args": [str(script)],
                    "env": {"PROBE_TOKEN": "${PROBE_TOKEN}", "FASTMCP_CHECK_FOR_UPDATES": "off"},
                }
            },
        }
    )
    connections = await open_connections(config, settings)
    try:
        outcome = await connections.call("probe__env_names", {})
    finally:
        await connections.aclose()
    names = outcome.structured["result"]
    # Positive controls: what the entry names, and what a program needs to run.
    assert "PROBE_TOKEN" in names and "PATH" in names and "LC_ALL" in names
    assert "LAB_API_KEY" not in names and "MLINTERN_HOME" not in names
    assert not set(PLANTED) & set(names)


async def test_the_agent_introduces_itself_by_name_and_version(settings: Settings) -> None:
    seen = FastMCP("who")

    @seen.tool
    def whoami(ctx: Context) -> str:
        """Who is calling."""
        info = ctx.session.client_params.client_info  # type: ignore[union-attr]
        return f"{info.name} {info.version}"

    connections = MCPConnections()
    await connections.add_in_process("who", seen)
    try:
        outcome = await connections.call("whoami", {})
        assert outcome.text == f"mlintern-agent {package_version()}"
    finally:
        await connections.aclose()
