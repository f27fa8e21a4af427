"""Where bubblewrap is missing: a refusal, unless the operator opted in to rlimits only."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from fastmcp import Client
from helpers import server_cmd, test_env
from mcp import Client as SdkClient
from mcp.client.stdio import StdioServerParameters
from mcp.types import TextContent
from sandbox_kit import data, marker, processes_carrying, sandbox_server, text

from server.errors import UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.core import SandboxService

OPT_IN = "MLINTERN_SANDBOX_ALLOW_UNISOLATED=true"


def no_bwrap_settings(home: Path, **extra: object) -> Settings:
    return Settings(home=home, sandbox_bwrap="/nonexistent/bwrap", _env_file=None, **extra)  # type: ignore[call-arg]


def without_bwrap(home: Path, **extra: object) -> SandboxService:
    settings = no_bwrap_settings(home, **extra)
    return SandboxService(settings, StateStore(settings.state_path))


def sandbox_dirs(home: Path) -> list[Path]:
    root = home / "sandboxes"
    return sorted(root.iterdir()) if root.exists() else []


async def test_without_namespaces_create_refuses_naming_the_package_and_the_setting(
    tmp_path: Path, era: str
) -> None:
    settings = no_bwrap_settings(tmp_path / "home")
    async with Client(sandbox_server(settings), mode=era) as client:  # type: ignore[call-arg]
        refused = await client.call_tool("sandbox_create", {}, raise_on_error=False)
        assert refused.is_error
        assert text(refused).startswith(
            "Refusing to run a sandbox without namespaces: bubblewrap ('/nonexistent/bwrap') "
            "is not installed. Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap"
        ), text(refused)
        assert OPT_IN in text(refused)
        listed = await client.call_tool("sandbox_list", {})
        assert data(listed)["active_count"] == 0
    assert sandbox_dirs(tmp_path / "home") == []
    # Positive control: the operator's opt-in is what lets the same call through.
    opted_in = no_bwrap_settings(tmp_path / "home", sandbox_allow_unisolated=True)
    async with Client(sandbox_server(opted_in), mode=era) as client:  # type: ignore[call-arg]
        created = await client.call_tool("sandbox_create", {})
        first_line = text(created).splitlines()[0]
        assert first_line.startswith("WARNING: NOT ISOLATED (bubblewrap ('/nonexistent/bwrap') is")
        assert "MLINTERN_SANDBOX_ALLOW_UNISOLATED" in first_line
        assert data(created)["isolation"] == "rlimits-only"


async def test_an_unisolated_sandbox_stops_running_once_the_opt_in_is_withdrawn(
    tmp_path: Path,
) -> None:
    sandbox = await without_bwrap(tmp_path / "home", sandbox_allow_unisolated=True).create()
    ran = await without_bwrap(tmp_path / "home", sandbox_allow_unisolated=True).exec(
        sandbox.sandbox_id, "echo ran"
    )
    assert ran.stdout.text == "ran\n"
    with pytest.raises(UserError, match="apt-get install bubblewrap"):
        await without_bwrap(tmp_path / "home").exec(sandbox.sandbox_id, "echo ran")


async def test_rlimits_only_is_stated_and_still_limits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = without_bwrap(tmp_path / "home", sandbox_allow_unisolated=True)
    sandbox = await service.create(cpu_s=1)
    assert sandbox.isolation == "rlimits-only"
    assert sandbox.warnings and "not installed" in sandbox.warnings[0]
    if os.geteuid() == 0 and sys.base_prefix.startswith("/root/"):
        assert "cannot reach the server's Python" in sandbox.warnings[1]
    assert any("rlimits" in record.message for record in caplog.records)

    ran = await service.exec(sandbox.sandbox_id, "id -u; echo $TMPDIR; touch $TMPDIR/t")
    expected_uid = "65534" if os.geteuid() == 0 else str(os.geteuid())
    assert ran.isolation == "rlimits-only"
    assert ran.stdout.text.splitlines() == [expected_uid, f"{sandbox.workspace}/.tmp"]

    loop = await service.exec(sandbox.sandbox_id, "while :; do :; done", timeout_s=30)
    assert loop.killed and loop.killed_reason == "cpu" and loop.duration_s < 10


async def test_rlimits_only_still_leaves_no_process_behind(tmp_path: Path) -> None:
    service = without_bwrap(tmp_path / "home", sandbox_allow_unisolated=True)
    sandbox = await service.create()
    name, value = marker()
    started = time.monotonic()
    ran = await service.exec(
        sandbox.sandbox_id,
        "setsid sleep 300 > /dev/null 2>&1 & nohup sleep 300 > /dev/null 2>&1 & echo started",
        env={name: value},
    )
    assert ran.stdout.text == "started\n" and time.monotonic() - started < 10
    assert any("background process" in note for note in ran.notes)
    assert processes_carrying(name, value) == []

    name, value = marker()
    timed_out = await service.exec(sandbox.sandbox_id, "sleep 300", timeout_s=1, env={name: value})
    assert timed_out.killed_reason == "timeout"
    assert processes_carrying(name, value) == []


async def test_the_documented_variables_work_in_a_real_server_over_stdio(tmp_path: Path) -> None:
    """The names in README's settings table, read from a real server process's environment."""
    cmd = server_cmd("--toolsets", "sandbox")
    base = {"MLINTERN_SANDBOX_BWRAP": "/nonexistent/bwrap"}
    for opted_in in ("false", "true"):
        env = test_env(tmp_path / "home", MLINTERN_SANDBOX_ALLOW_UNISOLATED=opted_in, **base)
        params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=env)
        async with SdkClient(params) as client:
            created = await client.call_tool("sandbox_create", {})
        block = created.content[0]
        assert isinstance(block, TextContent)
        if opted_in == "false":
            assert created.is_error and "apt-get install bubblewrap" in block.text
            assert OPT_IN in block.text
        else:
            assert not created.is_error, block.text
            assert block.text.startswith("WARNING: NOT ISOLATED (bubblewrap ('/nonexistent/bwrap')")
