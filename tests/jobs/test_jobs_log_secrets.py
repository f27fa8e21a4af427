"""Secrets never rest: a job printing credentials leaves no trace of them under MLINTERN_HOME,
files there are private, and log grep is literal or time-bounded."""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path

import pytest
from jobs_support import call, call_error, jobs_server, mcp_client, wait_terminal

from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService, build_spec

GH_PAT = "ghp_" + "A1b2C3d4E5" * 4
HF_VALUE = "hf_" + "Zz9Yy8Xx7W" * 4
JOB_SECRET = "my-db-password-value-0042"
DB_URL = "postgres://dbuser:hunter2secretpw@db.internal:5432/app"
PLANTED = (GH_PAT, HF_VALUE, JOB_SECRET, "hunter2secretpw")


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_VALUE)
    monkeypatch.setenv("MY_DB_PASSWORD", JOB_SECRET)


def raw_bytes_under(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


async def test_a_job_printing_credentials_leaves_none_on_disk(
    settings: Settings, workdir: Path, planted: None
) -> None:
    long_line = "x" * 995 + GH_PAT  # the secret straddles the 1000-character clip
    (workdir / "leak.py").write_text(
        "import os\n"
        f"print('pat GH_PAT={GH_PAT}', flush=True)\n"
        "print('hf', os.environ.get('HF_TOKEN'), flush=True)\n"
        "print('db', os.environ.get('MY_DB_PASSWORD'), flush=True)\n"
        f"print('url {DB_URL}', flush=True)\n"
        f"print({long_line!r}, flush=True)\n"
        "print('normal line loss=0.25 step=3', flush=True)\n"
    )
    async with mcp_client(jobs_server(settings)) as c:
        job = await call(
            c,
            "jobs_submit",
            {"script": str(workdir / "leak.py"), "secrets": ["MY_DB_PASSWORD", "HF_TOKEN"]},
        )
        wait_terminal(JobService(settings, StateStore(settings.state_path)), job["job_id"])
        logs = await call(c, "jobs_logs", {"job_id": job["job_id"]})
    log_text = (settings.home / "jobs" / job["job_id"] / "output.log").read_text()
    assert "normal line loss=0.25 step=3" in log_text  # positive control
    assert "pat GH_PAT=[REDACTED:github-token]" in log_text
    assert "hf [REDACTED:HF_TOKEN]" in log_text
    assert "db [REDACTED:MY_DB_PASSWORD]" in log_text
    assert "url postgres://dbuser:[REDACTED:password]@db.internal:5432/app" in log_text
    everything = raw_bytes_under(settings.home)
    for value in PLANTED:
        assert value.encode() not in everything
        assert value not in logs["text"]
    # The clipped long line shows no prefix of the token.
    clipped = next(line for line in logs["text"].splitlines() if line.startswith("xxx"))
    assert "ghp_" not in clipped and GH_PAT[:8] not in clipped


def test_files_under_home_are_private(settings: Settings, workdir: Path) -> None:
    (workdir / "ok.py").write_text("print('hello')\n")
    service = JobService(settings, StateStore(settings.state_path))
    job = wait_terminal(service, service.submit(build_spec(script=str(workdir / "ok.py"))).job_id)
    assert "hello" in service.logs(job.job_id).text  # positive control: the job ran
    for path in [settings.home, Path(job.job_dir), Path(job.job_dir).parent]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in settings.home.glob("state.sqlite3*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((Path(job.job_dir) / "output.log").stat().st_mode) == 0o600


async def test_grep_is_literal_and_a_catastrophic_regex_is_stopped(
    settings: Settings, workdir: Path
) -> None:
    (workdir / "lines.py").write_text(
        "print('axb')\nprint('a.b')\n" + "print('a' * 40 + '!')\n" * 50
    )
    service = JobService(settings, StateStore(settings.state_path))
    job = wait_terminal(
        service, service.submit(build_spec(script=str(workdir / "lines.py"))).job_id
    )
    assert service.logs(job.job_id, grep="a.b").text == "a.b"
    assert service.logs(job.job_id, grep="a.b", regex=True).text.splitlines() == ["axb", "a.b"]
    async with mcp_client(jobs_server(settings)) as c:
        started = time.monotonic()
        evil = asyncio.create_task(
            call_error(c, "jobs_logs", {"job_id": job.job_id, "grep": "(a|aa)+$", "regex": True})
        )
        await asyncio.sleep(0.2)
        other = await call(c, "jobs_status", {"job_id": job.job_id})  # still served meanwhile
        assert other["status"] == "completed"
        assert time.monotonic() - started < 1.5
        message = await evil
        assert time.monotonic() - started < 5
    assert "took over 1.5s and was stopped" in message
