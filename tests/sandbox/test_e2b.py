"""The E2B backend through the real e2b SDK, against a loopback fake of E2B's API and envd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.e2b import FakeE2B, fake_e2b
from fastmcp import Client
from sandbox_kit import data, sandbox_server, text

from server.errors import MissingCredentialError, UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.core import SandboxService

API_KEY = "e2b_fakeTestKey_0123456789abcdef"


@pytest.fixture
def e2b(tmp_path: Path) -> Iterator[tuple[FakeE2B, str]]:
    with fake_e2b(tmp_path / "e2b-vms", API_KEY) as served:
        yield served


def e2b_settings(home: Path, url: str, key: str | None = API_KEY) -> Settings:
    return Settings(
        home=home,
        e2b_api_key=key,
        e2b_api_url=url,
        e2b_sandbox_url=url,
        _env_file=None,  # type: ignore[call-arg]
    )


async def test_tools_map_onto_the_sdk(
    e2b: tuple[FakeE2B, str], tmp_path: Path, era: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = e2b
    monkeypatch.setenv("HF_TOKEN", "hf_mustNotTravel0001")
    settings = e2b_settings(tmp_path / "home", url)
    async with Client(sandbox_server(settings), mode=era) as mcp:  # type: ignore[call-arg]
        created = data(
            await mcp.call_tool(
                "sandbox_create",
                {"backend": "e2b", "idle_timeout_s": 600, "files": {"data/in.txt": "a\nb\n"}},
            )
        )
        sandbox_id = created["sandbox_id"]
        assert created["isolation"] == "e2b-microvm" and created["workspace"] == "/home/user"
        (vm,) = fake.sandboxes.values()
        assert vm.timeout == 600 and vm.allow_internet_access is False
        assert vm.metadata == {"mlintern_sandbox_id": sandbox_id}
        assert vm.local("/home/user/data/in.txt").read_text() == "a\nb\n"

        ran = data(
            await mcp.call_tool(
                "sandbox_exec",
                {"sandbox_id": sandbox_id, "command": "wc -l < data/in.txt; echo warn >&2; exit 4"},
            )
        )
        assert ran["exit_code"] == 4 and ran["stdout"]["text"].strip() == "2"
        assert ran["stderr"]["text"] == "warn\n"
        command = vm.commands[-1]
        assert command["cwd"] == "/home/user" and "ulimit -v 4194304" in command["args"][-1]

        py = data(
            await mcp.call_tool(
                "sandbox_exec",
                {
                    "sandbox_id": sandbox_id,
                    "language": "python",
                    "command": "import sys; print(sys.stdin.read().upper())",
                    "stdin": "shout",
                    "env": {"MODE": "test"},
                },
            )
        )
        assert py["stdout"]["text"] == "SHOUT\n"
        assert vm.commands[-1]["envs"] == {"MODE": "test"}  # only what the caller passed

        await mcp.call_tool(
            "sandbox_files",
            {"op": "write", "sandbox_id": sandbox_id, "path": "cfg.yaml", "content": "lr: 1\n"},
        )
        await mcp.call_tool(
            "sandbox_files",
            {
                "op": "edit",
                "sandbox_id": sandbox_id,
                "path": "/home/user/cfg.yaml",
                "old": "lr: 1",
                "new": "lr: 2",
            },
        )
        assert vm.local("/home/user/cfg.yaml").read_text() == "lr: 2\n"
        listing = data(
            await mcp.call_tool("sandbox_files", {"op": "read", "sandbox_id": sandbox_id})
        )
        assert {e["name"]: e["kind"] for e in listing["entries"]} == {
            "data": "dir",
            "cfg.yaml": "file",
        }
        outside = await mcp.call_tool(
            "sandbox_files",
            {"op": "read", "sandbox_id": sandbox_id, "path": "/etc/passwd"},
            raise_on_error=False,
        )
        assert outside.is_error and "outside the sandbox workspace (/home/user)" in text(outside)

        assert data(await mcp.call_tool("sandbox_destroy", {"sandbox_id": sandbox_id}))["destroyed"]
        assert vm.killed
    # The key went to E2B's API as its auth header, and nowhere near a command.
    assert fake.api_keys_seen and set(fake.api_keys_seen) == {API_KEY}
    for command in vm.commands:
        assert API_KEY not in repr(command) and "hf_mustNotTravel" not in repr(command)


async def test_timeout_kills_the_remote_command(e2b: tuple[FakeE2B, str], tmp_path: Path) -> None:
    fake, url = e2b
    service = SandboxService(e2b_settings(tmp_path / "home", url), StateStore(tmp_path / "s.db"))
    sandbox = await service.create(backend="e2b")
    ran = await service.exec(sandbox.sandbox_id, "echo before; sleep 60", timeout_s=1.5)
    assert ran.killed and ran.killed_reason == "timeout" and ran.stdout.text == "before\n"
    (vm,) = fake.sandboxes.values()
    assert vm.signals == ["SIGKILL"] and vm.processes == {}


async def test_long_output_is_saved_in_the_remote_workspace(
    e2b: tuple[FakeE2B, str], tmp_path: Path
) -> None:
    fake, url = e2b
    service = SandboxService(e2b_settings(tmp_path / "home", url), StateStore(tmp_path / "s.db"))
    sandbox = await service.create(backend="e2b")
    ran = await service.exec(sandbox.sandbox_id, "seq 1 100000")
    assert ran.stdout.truncated and ran.stdout.saved_to
    (vm,) = fake.sandboxes.values()
    saved = vm.local(f"/home/user/{ran.stdout.saved_to}")
    assert saved.read_text() == "".join(f"{n}\n" for n in range(1, 100001))
    page = await service.read(sandbox.sandbox_id, ran.stdout.saved_to, offset=99999, limit=5)
    assert page.text == " 99999\t99999\n100000\t100000" and page.total_lines == 100000


async def test_a_restarted_server_reconnects(e2b: tuple[FakeE2B, str], tmp_path: Path) -> None:
    fake, url = e2b
    settings = e2b_settings(tmp_path / "home", url)
    first = SandboxService(settings, StateStore(settings.state_path))
    sandbox = await first.create(backend="e2b", files={"keep.txt": "still here\n"})
    second = SandboxService(settings, StateStore(settings.state_path))
    ran = await second.exec(sandbox.sandbox_id, "cat keep.txt")
    assert ran.stdout.text == "still here\n"
    (vm,) = fake.sandboxes.values()
    assert vm.timeouts  # reconnecting pushed E2B's expiry out again


async def test_a_sandbox_e2b_expired_gets_a_clear_answer(
    e2b: tuple[FakeE2B, str], tmp_path: Path
) -> None:
    fake, url = e2b
    settings = e2b_settings(tmp_path / "home", url)
    service = SandboxService(settings, StateStore(settings.state_path))
    sandbox = await service.create(backend="e2b")
    fake.expire(next(iter(fake.sandboxes)))
    # Both a server that still holds the connection and a restarted one say what happened.
    restarted = SandboxService(settings, StateStore(settings.state_path))
    for server in (service, restarted):
        with pytest.raises(UserError, match=r"is gone.*sandbox_destroy"):
            await server.exec(sandbox.sandbox_id, "true")
    assert (await restarted.destroy(sandbox.sandbox_id)).destroyed


async def test_credentials_missing_or_rejected(e2b: tuple[FakeE2B, str], tmp_path: Path) -> None:
    _, url = e2b
    without = SandboxService(
        e2b_settings(tmp_path / "a", url, key=None), StateStore(tmp_path / "a.db")
    )
    with pytest.raises(MissingCredentialError, match="E2B_API_KEY is not set"):
        await without.create(backend="e2b")
    wrong = SandboxService(
        e2b_settings(tmp_path / "b", url, key="e2b_wrongKey_000000"), StateStore(tmp_path / "b.db")
    )
    with pytest.raises(UserError, match="rejected E2B_API_KEY") as caught:
        await wrong.create(backend="e2b")
    assert "e2b_wrongKey" not in str(caught.value)
    assert (await without.list()).sandboxes == []


async def test_input_for_a_command_that_already_ended_is_not_an_error(
    e2b: tuple[FakeE2B, str], tmp_path: Path
) -> None:
    fake, url = e2b
    fake.input_arrives_late = True
    service = SandboxService(e2b_settings(tmp_path / "home", url), StateStore(tmp_path / "s.db"))
    sandbox = await service.create(backend="e2b")
    ran = await service.exec(sandbox.sandbox_id, "exit 0", stdin="ignored\n")
    assert ran.exit_code == 0 and not ran.killed
