"""Limits per sandbox, not per process: memory of all its processes, disk and files of its
workspace; and no memory_mb beyond the machine."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from fastmcp import Client
from sandbox_kit import sandbox_server, text

from server import cgroups
from server.errors import UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.backends import disk_quota
from toolkits.sandbox.core import SandboxService

pytestmark = pytest.mark.usefixtures("isolated")

# Four processes of 150 MiB each, all at once: 600 MiB under a 256 MiB sandbox. Each says
# "kept" only after holding its memory for 3 s, so two "kept" would mean 300 MiB at once.
HOG = (
    "for i in 1 2 3 4; do python -c \"import time; b = b'x' * (150 << 20); "
    "time.sleep(3); print('kept', len(b) >> 20, flush=True)\" & done; wait"
)
PHYSICAL_MB = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") >> 20


async def test_memory_beyond_the_machine_is_refused(settings: Settings, era: str) -> None:
    async with Client(sandbox_server(settings), mode=era) as client:  # type: ignore[call-arg]
        refused = await client.call_tool(
            "sandbox_create", {"memory_mb": 262144}, raise_on_error=False
        )
        assert refused.is_error
        assert text(refused) == (
            f"memory_mb=262144 is more than this machine's memory ({PHYSICAL_MB} MiB); ask for "
            f"at most {PHYSICAL_MB}, or use a bigger machine (backend='e2b', or a job)."
        )
        assert not (settings.home / "sandboxes").exists() or not any(
            (settings.home / "sandboxes").iterdir()
        )
        created = await client.call_tool("sandbox_create", {"memory_mb": 256})
        assert not created.is_error, text(created)


async def test_memory_mb_bounds_all_processes_of_a_sandbox_together(
    service: SandboxService, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = await service.create(memory_mb=256)
    if not cgroups.detect().available:
        assert sandbox.limits.memory_per_sandbox is False
        assert any("hold per process, not for the sandbox" in w for w in sandbox.warnings)
        pytest.skip(f"no delegated cgroups here: {cgroups.detect().reason}")
    assert sandbox.limits.memory_per_sandbox is True
    assert "256 MiB memory per sandbox" in sandbox.render()
    ran = await service.exec(sandbox.sandbox_id, HOG, timeout_s=60)
    assert ran.stdout.text.count("kept 150") <= 1, ran.stdout.text
    assert any("killed a process of this sandbox at its memory limit" in n for n in ran.notes)
    # Positive control: with limits per process only, the same four all hold their memory.
    monkeypatch.setattr(
        cgroups, "detect", lambda: cgroups.Cgroups((), "", "switched off by the test")
    )
    per_process = SandboxService(settings, StateStore(settings.state_path))
    unbounded = await per_process.create(memory_mb=256)
    assert unbounded.limits.memory_per_sandbox is False
    assert any(w.startswith("memory_mb and the process limit hold per") for w in unbounded.warnings)
    ran = await per_process.exec(unbounded.sandbox_id, HOG, timeout_s=60)
    assert ran.stdout.text.count("kept 150") == 4, ran.stderr.text


def quota_or_note(service: SandboxService, warnings: list[str]) -> None:
    reason = disk_quota.unavailable_reason()
    if reason:
        assert f"The workspace has no disk quota ({reason})." in warnings
        pytest.skip(f"no workspace quota here: {reason}")


def used_bytes(workspace: str) -> int:
    total = 0
    for folder, _, names in os.walk(workspace):
        for name in names:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


async def test_an_exec_cannot_write_past_the_workspace_quota(settings: Settings) -> None:
    small = settings.model_copy(update={"sandbox_disk_quota_mb": 64, "sandbox_max_files": 1000})
    service = SandboxService(small, StateStore(small.state_path))
    sandbox = await service.create()
    quota_or_note(service, sandbox.warnings)
    assert sandbox.limits.disk_quota_mb == 64 and sandbox.limits.max_files == 1000
    written = await service.write(sandbox.sandbox_id, "before.txt", "fits\n")
    assert written.bytes_written == 5  # positive control: writing works below the quota
    filled = await service.exec(
        sandbox.sandbox_id, "dd if=/dev/zero of=big bs=1M count=200", timeout_s=120
    )
    assert filled.exit_code != 0 and "No space left on device" in filled.stderr.text
    assert filled.hint and "disk quota" in filled.hint
    assert used_bytes(sandbox.workspace) <= 64 << 20
    image = Path(sandbox.workspace).parent / disk_quota.IMAGE_NAME
    assert image.stat().st_blocks * 512 <= 64 << 20  # what the host's disk actually gave
    with pytest.raises(UserError, match="is full") as caught:
        await service.write(sandbox.sandbox_id, "more.txt", "y" * (4 << 20))
    assert "64 MiB and 1000 files" in str(caught.value)
    freed = await service.exec(sandbox.sandbox_id, "rm big && echo freed")
    assert freed.stdout.text == "freed\n"
    await service.write(sandbox.sandbox_id, "more.txt", "y" * (4 << 20))


async def test_thirty_thousand_files_are_stopped_at_the_file_cap(service: SandboxService) -> None:
    sandbox = await service.create()
    quota_or_note(service, sandbox.warnings)
    cap = service.settings.sandbox_max_files
    assert cap < 30_000
    script = (
        "import os\n"
        "os.mkdir('many')\n"
        "n = 0\n"
        "try:\n"
        "    for n in range(30000):\n"
        "        open(f'many/{n}', 'w').close()\n"
        "    print('created all', n + 1)\n"
        "except OSError as exc:\n"
        "    print('stopped at', n, exc.strerror)\n"
    )
    ran = await service.exec(sandbox.sandbox_id, script, language="python", timeout_s=300)
    words = ran.stdout.text.split()
    assert words[:2] == ["stopped", "at"], ran.stdout.text + ran.stderr.text
    # ext4 rounds the inode count up to whole inode tables: a little over the cap, never 30k.
    assert int(words[2]) <= cap * 1.02 and "No space left on device" in ran.stdout.text
    assert len(os.listdir(Path(sandbox.workspace) / "many")) <= cap * 1.02
    await service.destroy(sandbox.sandbox_id)
    assert not Path(sandbox.workspace).parent.exists()


async def test_a_workspace_unmounted_by_a_reboot_is_mounted_again_with_its_files(
    service: SandboxService,
) -> None:
    sandbox = await service.create(files={"kept.txt": "still here\n"})
    quota_or_note(service, sandbox.warnings)
    workspace = Path(sandbox.workspace)
    disk_quota.unmount(workspace)  # what a reboot leaves: the image, an empty mount point
    assert not await asyncio.to_thread(workspace.is_mount)
    assert not (workspace / "kept.txt").exists()
    ran = await service.exec(sandbox.sandbox_id, "cat kept.txt; df --output=size -m . | tail -1")
    words = ran.stdout.text.split()
    assert words[:2] == ["still", "here"], ran.stderr.text
    quota = service.settings.sandbox_disk_quota_mb  # less the filesystem's own tables
    assert quota * 0.9 < int(words[2]) <= quota
    assert await asyncio.to_thread(workspace.is_mount)
