"""jobs_logs: bounded windows with offsets, noise collapsed, secrets kept out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import poll_until
from jobs_support import call, jobs_server, mcp_client, wait_terminal
from pydantic import SecretStr

from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService, build_spec
from toolkits.jobs.logs import clean


def cleaned(raw: str) -> list[str]:
    offset, lines = 0, []
    for text in raw.split("\n"):
        lines.append((offset, offset + len(text) + 1, text))
        offset += len(text) + 1
    return [line.text for line in clean(iter(lines), lambda text: text)]


def test_noise_is_collapsed_and_real_lines_kept() -> None:
    bar = "\r".join(
        f"Downloading model.bin: {p}%|{'█' * (p // 10)}| {p}/100" for p in range(0, 101, 5)
    )
    tqdm = [
        f"epoch 1: {p:3d}%|{'#' * (p // 10):10s}| {p}/100 [00:0{p // 50}<00:01, 9.1it/s]"
        for p in range(0, 101, 10)
    ]
    raw = "\n".join(
        [
            "\x1b[32mstarting\x1b[0m",
            bar,
            *tqdm,
            "warning: slow",
            "warning: slow",
            "warning: slow",
            "done",
        ]
    )
    assert cleaned(raw) == [
        "starting",
        "Downloading model.bin: 100%|██████████| 100/100",
        "epoch 1: 100%|##########| 100/100 [00:02<00:01, 9.1it/s]  [10 earlier progress updates collapsed]",
        "warning: slow",
        "[previous line repeated 2 more times]",
        "done",
    ]


def numbered_job(service: JobService, workdir: Path, count: int, width: int = 0) -> str:
    (workdir / "numbers.py").write_text(
        f"for i in range({count}):\n    print(f'line {{i}} ' + 'x' * {width})\n"
    )
    job = service.submit(build_spec(script=str(workdir / "numbers.py")))
    wait_terminal(service, job.job_id)
    return job.job_id


def test_tail_offset_paging_reads_everything_once_in_order(
    service: JobService, workdir: Path
) -> None:
    job_id = numbered_job(service, workdir, 500)
    tail = service.logs(job_id, tail=20)
    # The last line is the runner's note of how the job ended.
    assert tail.text.splitlines()[0] == "line 481"
    assert tail.text.splitlines()[-1].startswith("[mlintern] job ended: exit code 0")
    assert tail.lines == 20 and not tail.truncated
    assert "offset=0" in (tail.hint or "")  # says how to read from the start
    seen: list[str] = []
    offset = 0
    for _ in range(20):
        page = service.logs(job_id, tail=100, offset=offset)
        seen += [line for line in page.text.splitlines() if line.startswith("line ")]
        assert page.lines <= 100
        if not page.truncated:
            break
        assert f"offset={page.next_offset}" in (page.hint or "")
        offset = page.next_offset
    assert seen == [f"line {i}" for i in range(500)]


def test_windows_stay_within_the_character_budget(service: JobService, workdir: Path) -> None:
    job_id = numbered_job(service, workdir, 200, width=900)
    page = service.logs(job_id, tail=200, offset=0, max_chars=5_000)
    assert len(page.text) <= 5_000
    assert page.truncated and page.lines < 200
    last = service.logs(job_id, tail=200, max_chars=5_000)
    assert len(last.text) <= 5_000
    assert last.text.splitlines()[-2].startswith("line 199 xxx")


async def test_following_a_running_job_returns_only_new_lines(
    settings: Settings, workdir: Path
) -> None:
    (workdir / "drip.py").write_text(
        "import time\nfor i in range(40):\n    print(f'drip {i}', flush=True)\n    time.sleep(0.1)\n"
    )
    async with mcp_client(jobs_server(settings)) as c:
        job_id = (await call(c, "jobs_submit", {"script": str(workdir / "drip.py")}))["job_id"]
        await poll_until(
            lambda: (settings.home / "jobs" / job_id / "output.log").stat().st_size > 20,
            20,
            "output",
        )
        first = await call(c, "jobs_logs", {"job_id": job_id})
        assert first["status"] == "running"
        assert "later for new lines" in first["hint"]
        seen = first["text"].splitlines()
        offset = first["next_offset"]
        for _ in range(100):
            await asyncio.sleep(0.2)
            page = await call(c, "jobs_logs", {"job_id": job_id, "offset": offset})
            seen += page["text"].splitlines() if page["text"] else []
            offset = page["next_offset"]
            if page["status"] != "running" and not page["truncated"]:
                break
    drips = [line for line in seen if line.startswith("drip")]
    assert drips == [f"drip {i}" for i in range(40)]


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"DEMO_API_KEY": "demo-secret-value-123", "OTHER_TOKEN": "other-secret-value-456"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


PRINT_ENV = (
    "import os\nfor k in ('DEMO_API_KEY', 'OTHER_TOKEN', 'HF_TOKEN'):\n"
    "    print(k, os.environ.get(k), flush=True)\n"
)


def test_jobs_get_only_named_secrets_and_logs_never_show_them(
    settings: Settings, workdir: Path, secret_env: dict[str, str]
) -> None:
    settings.hf_token = SecretStr("hf_settings_only_token_789")  # from .env, not os.environ
    service = JobService(settings, StateStore(settings.state_path))
    (workdir / "env.py").write_text(PRINT_ENV)
    named = service.submit(
        build_spec(script=str(workdir / "env.py"), secrets=["DEMO_API_KEY", "HF_TOKEN"])
    )
    unnamed = service.submit(build_spec(script=str(workdir / "env.py")))
    for job in (named, unnamed):
        wait_terminal(service, job.job_id)
    named_out = service.logs(named.job_id).text
    # The job did receive the values, but they were redacted before reaching the disk...
    raw = (Path(named.job_dir) / "output.log").read_text()
    assert "DEMO_API_KEY [REDACTED:" in raw and "HF_TOKEN [REDACTED:" in raw
    assert "demo-secret-value-123" not in raw and "hf_settings_only_token_789" not in raw
    # ...and no output of the toolkit shows them.
    assert "DEMO_API_KEY [REDACTED" in named_out
    assert "HF_TOKEN [REDACTED" in named_out
    assert "OTHER_TOKEN None" in named_out  # not named: not given
    for value in (*secret_env.values(), "hf_settings_only_token_789"):
        assert value not in named_out
        assert service.logs(named.job_id, grep=value[:12]).text == ""
    health = service.health(service.get(named.job_id))
    assert "hf_settings_only_token_789" not in (health.last_log_line or "")
    assert service.logs(unnamed.job_id, grep=" None").text.splitlines() == [
        "DEMO_API_KEY None",
        "OTHER_TOKEN None",
        "HF_TOKEN None",
    ]
    # Only names are stored.
    state = b"".join(p.read_bytes() for p in settings.home.glob("state.sqlite3*"))
    assert b"DEMO_API_KEY" in state
    assert b"demo-secret-value-123" not in state and b"hf_settings_only_token_789" not in state
