"""Where bubblewrap is missing: rlimits-only sandboxes that say so, or a refusal when required."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from sandbox_kit import marker, processes_carrying

from server.errors import UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.core import SandboxService


def without_bwrap(home: Path, **extra: object) -> SandboxService:
    settings = Settings(home=home, sandbox_bwrap="/nonexistent/bwrap", _env_file=None, **extra)  # type: ignore[call-arg]
    return SandboxService(settings, StateStore(settings.state_path))


async def test_rlimits_only_is_stated_and_still_limits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = without_bwrap(tmp_path / "home")
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
    service = without_bwrap(tmp_path / "home")
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


async def test_requiring_isolation_refuses_without_bwrap(tmp_path: Path) -> None:
    service = without_bwrap(tmp_path / "home", sandbox_require_isolation=True)
    with pytest.raises(UserError, match="MLINTERN_SANDBOX_REQUIRE_ISOLATION") as caught:
        await service.create()
    assert "apt-get install bubblewrap" in str(caught.value)
    assert (await service.list()).active_count == 0
    assert not (tmp_path / "home" / "sandboxes").exists() or not any(
        (tmp_path / "home" / "sandboxes").iterdir()
    )
