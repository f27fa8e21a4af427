"""What a sandbox under bubblewrap must not be able to do, each checked for real.

Every test here runs on the local backend's isolated path (the ``isolated`` fixture fails the
test when bubblewrap is not usable) and drives the plain service, as the tools do.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_kit import (
    host_has,
    line_server,
    marker,
    processes_carrying,
    processes_named,
    require_tun,
)

from server.errors import UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.core import SandboxService

pytestmark = pytest.mark.usefixtures("isolated")


async def test_a_file_planted_outside_the_workspace_cannot_be_read(
    service: SandboxService, tmp_path: Path
) -> None:
    token_file = tmp_path / "user-home" / ".cache" / "huggingface" / "token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text("hf_plantedSecretValue123456\n")
    sandbox = await service.create(files={"own.txt": "readable\n"})
    control = await service.exec(sandbox.sandbox_id, "cat own.txt")
    assert control.stdout.text == "readable\n"  # the sandbox can read; what follows it cannot
    for command in (
        f"cat {token_file}",
        f"python -c \"print(open('{token_file}').read())\"",
        f"ls {token_file.parent}",
        "cat /etc/shadow",
    ):
        ran = await service.exec(sandbox.sandbox_id, command)
        assert ran.exit_code != 0, command
        assert "hf_planted" not in ran.stdout.text + ran.stderr.text
    with pytest.raises(UserError, match="outside the sandbox workspace"):
        await service.read(sandbox.sandbox_id, str(token_file))


async def test_no_credentials_reach_the_sandbox_environment(
    service: SandboxService, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "HF_TOKEN": "hf_serverSideToken0001",
        "GITHUB_TOKEN": "ghp_serverSideToken0002",
        "OPENAI_API_KEY": "sk-serverSideKey0003",
        "E2B_API_KEY": "e2b_serverSideKey0004",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HARMLESS_SETTING", "visible-on-the-host")
    sandbox = await service.create()
    ran = await service.exec(sandbox.sandbox_id, "env; cat /proc/1/environ /proc/self/environ")
    seen = ran.stdout.text + ran.stderr.text
    for name, value in secrets.items():
        assert name not in seen and value not in seen
    assert "HARMLESS_SETTING" not in seen  # the environment is cleared, not just filtered
    assert f"HOME={sandbox.workspace}" in seen
    with pytest.raises(UserError, match="credential"):
        await service.exec(sandbox.sandbox_id, "true", env={"HF_TOKEN": "hf_passedAlong000"})


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers one line per connection."""
    with line_server("127.0.0.1") as port:
        yield port


async def test_without_network_a_host_port_cannot_be_reached(
    service: SandboxService, settings: Settings, listener: int
) -> None:
    probe = (
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {listener}), timeout=3)\n"
        "print(s.recv(100).decode().strip())\n"
    )
    offline = await service.create()
    refused = await service.exec(offline.sandbox_id, probe, language="python")
    assert refused.exit_code != 0 and "hello from the host" not in refused.stdout.text
    assert "ConnectionRefusedError" in refused.stderr.text or "unreachable" in refused.stderr.text
    # Without slirp4netns a network=True sandbox would share the host's network: refused ...
    no_slirp = SandboxService(
        settings.model_copy(update={"sandbox_slirp4netns": "no-such-slirp4netns"}),
        StateStore(settings.state_path),
    )
    with pytest.raises(UserError, match="MLINTERN_SANDBOX_ALLOW_UNISOLATED=true") as caught:
        await no_slirp.create(network=True)
    assert "apt-get install slirp4netns iproute2" in str(caught.value)
    # ... unless the operator opts in; then the same probe does connect, so the check above
    # can fail.
    no_slirp = SandboxService(
        settings.model_copy(
            update={"sandbox_slirp4netns": "no-such-slirp4netns", "sandbox_allow_unisolated": True}
        ),
        StateStore(settings.state_path),
    )
    shared = await no_slirp.create(network=True)
    assert shared.network == "host"
    assert shared.warnings[0].startswith("NOT ISOLATED: network=True shares this machine's")
    assert any(
        "loopback (127.0.0.1) and private networks are reachable" in w for w in shared.warnings
    )
    allowed = await no_slirp.exec(shared.sandbox_id, probe, language="python")
    assert allowed.stdout.text == "hello from the host\n", allowed.stderr.text


async def test_with_network_the_internet_is_routed_but_the_hosts_loopback_is_not(
    service: SandboxService, listener: int
) -> None:
    require_tun()
    helpers_before = processes_named("slirp4netns")
    online = await service.create(network=True)
    assert online.network == "user" and online.warnings == []
    # slirp4netns gave the sandbox a TAP device with a default route and its DNS forwarder.
    routes = await service.exec(online.sandbox_id, "cat /proc/net/route /etc/resolv.conf")
    default = [line.split() for line in routes.stdout.text.splitlines() if "\t00000000\t" in line]
    assert default and default[0][0] == "tap0", routes.stdout.text
    assert "nameserver 10.0.2.3" in routes.stdout.text
    # The host's loopback stays out of reach, directly and through slirp's host alias.
    for host in ("127.0.0.1", "10.0.2.2"):
        probe = (
            "import socket\n"
            f"s = socket.create_connection(('{host}', {listener}), timeout=3)\n"
            "print(s.recv(100).decode().strip())\n"
        )
        refused = await service.exec(online.sandbox_id, probe, language="python")
        assert refused.exit_code != 0 and "hello from the host" not in refused.stdout.text
    # Nothing of the network helper outlives the exec.
    assert processes_named("slirp4netns") <= helpers_before


async def _still_answers(service: SandboxService, sandbox_id: str) -> None:
    started = time.monotonic()
    after = await service.exec(sandbox_id, "echo alive")
    assert after.stdout.text == "alive\n" and time.monotonic() - started < 5


async def test_fork_bombs_end_within_their_limits_and_leave_nothing(
    service: SandboxService,
) -> None:
    sandbox = await service.create()
    # The classic bomb runs into the process limit: forks fail (bash retries them for a while
    # with backoff). `wait` would only wait for the first pipeline, whose members return at once,
    # and the shell's exit tears the PID namespace down, sometimes before the bomb has grown; so
    # the shell stays a few seconds, long enough for the bomb to meet the limit, then ends.
    name, value = marker()
    started = time.monotonic()
    classic = await service.exec(
        sandbox.sandbox_id,
        "bomb() { bomb | bomb & }; bomb; sleep 5",
        timeout_s=8,
        env={name: value},
    )
    assert time.monotonic() - started < 8 + 5
    assert "Resource temporarily unavailable" in classic.stderr.text
    assert classic.hint and "hit the process limit" in classic.hint
    assert processes_carrying(name, value) == []
    # One that keeps retrying runs into the timeout, which kills the whole PID namespace.
    name, value = marker()
    started = time.monotonic()
    stubborn = await service.exec(
        sandbox.sandbox_id,
        "bomb() { while :; do bomb & done; }; bomb",
        timeout_s=4,
        env={name: value},
    )
    assert time.monotonic() - started < 15
    assert stubborn.killed and stubborn.killed_reason == "timeout"
    assert processes_carrying(name, value) == []
    await _still_answers(service, sandbox.sandbox_id)


async def test_memory_bomb_is_stopped_by_the_memory_limit(service: SandboxService) -> None:
    sandbox = await service.create(memory_mb=256)
    started = time.monotonic()
    bomb = await service.exec(
        sandbox.sandbox_id,
        "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 2**20))",
        language="python",
        timeout_s=60,
    )
    assert time.monotonic() - started < 20  # the limit stopped it, not the timeout
    assert bomb.killed and bomb.killed_reason == "memory" and "MemoryError" in bomb.stderr.text
    await _still_answers(service, sandbox.sandbox_id)


async def test_infinite_loop_is_stopped_by_the_cpu_limit(service: SandboxService) -> None:
    sandbox = await service.create(cpu_s=2)
    name, value = marker()
    loop = await service.exec(
        sandbox.sandbox_id,
        "while True:\n    pass",
        language="python",
        timeout_s=60,
        env={name: value},
    )
    assert loop.killed and loop.killed_reason == "cpu" and loop.signal == "SIGXCPU"
    assert 1.5 < loop.duration_s < 10
    assert processes_carrying(name, value) == []
    await _still_answers(service, sandbox.sandbox_id)


async def test_background_processes_do_not_outlive_their_exec(service: SandboxService) -> None:
    sandbox = await service.create()
    name, value = marker()
    ran = await service.exec(
        sandbox.sandbox_id,
        "(setsid sleep 300 &) ; nohup sleep 300 & echo started",
        env={name: value},
    )
    assert ran.exit_code == 0 and ran.stdout.text == "started\n"
    assert processes_carrying(name, value) == []


async def test_a_100mb_flood_is_cut_and_server_memory_stays_bounded(
    service: SandboxService,
) -> None:
    sandbox = await service.create()
    tracemalloc.start()
    try:
        flood = await service.exec(
            sandbox.sandbox_id, "head -c 100000000 /dev/zero | tr '\\0' 'x'", timeout_s=120
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert flood.exit_code == 0 and flood.stdout.total_bytes == 100_000_000
    assert flood.stdout.truncated and len(flood.stdout.text) <= service.settings.max_output_chars
    assert peak < 20 * 2**20, f"the server held {peak / 2**20:.0f} MiB for a 100 MB stream"
    saved = Path(sandbox.workspace) / (flood.stdout.saved_to or "")
    assert saved.stat().st_size == 100_000_000
    await _still_answers(service, sandbox.sandbox_id)


async def test_writes_outside_the_workspace_fail(service: SandboxService, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    sandbox = await service.create()
    ran = await service.exec(
        sandbox.sandbox_id,
        f"touch {outside}/from-sandbox; echo x > /usr/evil; echo y > /etc/evil; mkdir /opt/evil; "
        "echo inside > mine.txt",
    )
    assert ran.exit_code == 0  # the last command, inside the workspace, worked
    assert ran.stderr.text.count("\n") == 4  # each of the four writes outside failed
    assert (await service.read(sandbox.sandbox_id, "mine.txt")).text == "     1\tinside"
    assert not (outside / "from-sandbox").exists()
    assert not host_has("/usr/evil", "/etc/evil", "/opt/evil")
    for bad, why in (
        ("../escape.txt", "contains '..': sandbox paths must stay inside the workspace"),
        (str(outside / "x.txt"), "is outside the sandbox workspace"),
        ("ok/../../escape.txt", "contains '..': sandbox paths must stay inside the workspace"),
    ):
        with pytest.raises(UserError) as refused:
            await service.write(sandbox.sandbox_id, bad, "nope")
        assert str(refused.value).startswith(f"{bad!r} {why}"), str(refused.value)
    assert list(outside.iterdir()) == []
    assert not (Path(sandbox.workspace).parent / "escape.txt").exists()


async def test_symlinks_that_lead_out_are_refused(service: SandboxService, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host secret\n")
    sandbox = await service.create()
    made = await service.exec(
        sandbox.sandbox_id,
        f"ln -s {outside} out_dir && ln -s {outside}/secret.txt out_file && "
        f"ln -s /etc/passwd passwd && mkdir inner && echo fine > inner/f && ln -s inner in_dir",
    )
    assert made.exit_code == 0, made.stderr.text
    for path in ("out_dir/secret.txt", "out_file", "passwd"):
        with pytest.raises(UserError, match="leads outside the sandbox workspace"):
            await service.read(sandbox.sandbox_id, path)
    for path in ("out_dir/planted.txt", "out_file"):
        with pytest.raises(UserError, match="leads outside the sandbox workspace"):
            await service.write(sandbox.sandbox_id, path, "overwritten")
    with pytest.raises(UserError, match="leads outside"):
        await service.edit(sandbox.sandbox_id, "out_file", "host", "pwned")
    assert (outside / "secret.txt").read_text() == "host secret\n"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    # A symlink that stays inside the workspace is followed.
    inside = await service.read(sandbox.sandbox_id, "in_dir/f")
    assert "fine" in inside.text


async def test_a_cancelled_exec_leaves_nothing_running(service: SandboxService) -> None:
    sandbox = await service.create()
    name, value = marker()
    running_exec = asyncio.create_task(
        service.exec(sandbox.sandbox_id, "sleep 300 & sleep 300", env={name: value})
    )
    await asyncio.sleep(1.0)
    assert processes_carrying(name, value)  # it really was running
    running_exec.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running_exec
    await asyncio.sleep(0.2)  # the kernel tears the PID namespace down asynchronously
    assert processes_carrying(name, value) == []
    await _still_answers(service, sandbox.sandbox_id)


async def test_destroy_stops_a_running_exec(service: SandboxService) -> None:
    sandbox = await service.create()
    name, value = marker()
    running_exec = asyncio.create_task(
        service.exec(sandbox.sandbox_id, "sleep 300", timeout_s=300, env={name: value})
    )
    await asyncio.sleep(1.0)
    assert (await service.destroy(sandbox.sandbox_id)).destroyed
    ended = await asyncio.wait_for(running_exec, 10)
    assert ended.signal == "SIGKILL" and ended.duration_s < 10
    assert processes_carrying(name, value) == []
    assert not host_has(sandbox.workspace)
