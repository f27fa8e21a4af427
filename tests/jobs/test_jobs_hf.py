"""The hf backend: huggingface_hub's real client against a loopback fake of the Jobs API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.hf_jobs import FakeHfJobs
from helpers import poll_until
from jobs_support import call, jobs_server, mcp_client, wait_for
from pydantic import SecretStr

from server.errors import UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService, build_spec

TOKEN = "hf_fake_jobs_token_0123456789"
SCRIPT = """
import os, sys
print("args", sys.argv[1:])
print("config", open(os.environ["MLINTERN_CONFIG_FILE"]).read().strip())
print("job", os.environ["MLINTERN_JOB_ID"])
print("key", os.environ.get("DEMO_API_KEY"), "hf", os.environ.get("HF_TOKEN"))
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def fake() -> Iterator[FakeHfJobs]:
    with FakeHfJobs(TOKEN) as fake:
        yield fake


@pytest.fixture
def hf_settings(settings: Settings, fake: FakeHfJobs) -> Settings:
    settings.hf_endpoint = fake.url
    settings.hf_token = SecretStr(TOKEN)
    return settings


@pytest.fixture
def hf_service(hf_settings: Settings) -> JobService:
    return JobService(hf_settings, StateStore(hf_settings.state_path))


def finished(service: JobService, job_id: str):
    wait_for(lambda: service.refresh(job_id).is_terminal, 30, f"hf job {job_id}", step=0.2)
    return service.get(job_id)


async def test_inlined_script_runs_and_its_logs_come_back_redacted(
    hf_settings: Settings, fake: FakeHfJobs, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_API_KEY", "demo-secret-value-123")
    (workdir / "train.py").write_text(SCRIPT)
    (workdir / "cfg.yaml").write_text("lr: 0.1\n")
    async with mcp_client(jobs_server(hf_settings)) as c:
        job = await call(
            c,
            "jobs_submit",
            {
                "backend": "hf",
                "script": "train.py",
                "working_dir": str(workdir),
                "script_args": ["0", "--fast"],
                "config_file": "cfg.yaml",
                "secrets": ["DEMO_API_KEY"],
                "labels": {"team": "nlp"},
            },
        )
        assert job["status"] == "queued"  # SCHEDULING on Hugging Face
        remote = fake.only_job()
        assert job["url"] == f"{fake.url}/jobs/alice/{remote.id}"
        assert job["hardware"] == "hf: cpu-basic"
        for _ in range(100):
            done = await call(c, "jobs_status", {"job_id": job["job_id"]})
            if done["status"] == "completed":
                break
            await asyncio.sleep(0.2)
        assert done["status"] == "completed"
        logs = await call(c, "jobs_logs", {"job_id": job["job_id"]})
    text = logs["text"]
    assert "args ['0', '--fast']" in text
    assert "config lr: 0.1" in text
    assert f"job {job['job_id']}" in text
    assert "key [REDACTED:DEMO_API_KEY] hf None" in text  # the named secret arrived; HF_TOKEN not
    assert "demo-secret-value-123" not in text
    # What went over the wire: the secret as an (encrypted) job secret, never as plain env;
    # the HF token only as this endpoint's bearer credential.
    assert remote.spec["secrets"] == {"DEMO_API_KEY": "demo-secret-value-123"}
    assert "DEMO_API_KEY" not in remote.spec["environment"]
    assert TOKEN not in str(remote.spec)
    assert remote.spec["labels"] == {
        "team": "nlp",
        "mlintern-job": job["job_id"],
        "name": job["job_id"],
    }
    assert {
        r.headers.get("authorization") for r in fake.recorder.requests if "/jobs/" in r.path
    } == {f"Bearer {TOKEN}"}


def test_failed_and_cancelled_jobs(hf_service: JobService, fake: FakeHfJobs, workdir: Path) -> None:
    (workdir / "train.py").write_text(SCRIPT)
    (workdir / "cfg.yaml").write_text("x: 1\n")
    failing = hf_service.submit(
        build_spec(
            backend="hf",
            script=str(workdir / "train.py"),
            script_args=["4"],
            config_file=str(workdir / "cfg.yaml"),
        )
    )
    failed = finished(hf_service, failing.job_id)
    assert failed.status == "failed"
    assert failed.message == "Job failed with exit code: 4"
    (workdir / "slow.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(300)\n")
    slow = hf_service.submit(build_spec(backend="hf", script=str(workdir / "slow.py")))
    wait_for(lambda: hf_service.refresh(slow.job_id).status == "running", 20, "running")
    cancelled = hf_service.cancel(slow.job_id)
    assert cancelled.status == "cancelled"
    remote = fake.jobs[cancelled.remote_id or ""]
    assert remote.stage == "CANCELED"
    wait_for(lambda: remote.process is not None and remote.process.poll() is not None, 10, "stop")


async def test_running_job_logs_arrive_with_progress_while_the_stream_stays_open(
    hf_settings: Settings, fake: FakeHfJobs, workdir: Path
) -> None:
    """A running job's log stream never ends by itself (the client stops reading after 5 s of
    silence), so jobs_logs takes seconds and must send progress meanwhile."""
    (workdir / "slow.py").write_text(
        "import time\nprint('epoch 1 done', flush=True)\ntime.sleep(300)\n"
    )
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with mcp_client(jobs_server(hf_settings), progress_handler=on_progress) as c:
        job = await call(c, "jobs_submit", {"backend": "hf", "script": str(workdir / "slow.py")})
        remote = fake.only_job()
        await poll_until(
            lambda: any("epoch 1" in line for _, line in remote.logs), 20, "first log line"
        )
        page = await call(c, "jobs_logs", {"job_id": job["job_id"]})
        assert "epoch 1 done" in page["text"]
        assert page["status"] == "running" and "later for new lines" in page["hint"]
        assert any(message.startswith("reading logs") for message in progress), progress
        await call(c, "jobs_cancel", {"job_id": job["job_id"]})


def test_dependencies_command_flavor_and_namespace_reach_the_api(
    hf_settings: Settings, fake: FakeHfJobs
) -> None:
    fake.execute = False
    service = JobService(hf_settings, StateStore(hf_settings.state_path))
    job = service.submit(
        build_spec(
            backend="hf",
            command="python -c 'import pandas'",
            dependencies=["pandas>=2"],
            flavor="a10g-small",
            image="python:3.12",
            timeout=3600,
            namespace="acme",
            name="my run!",
        )
    )
    remote = fake.only_job()
    assert remote.namespace == "acme"
    assert remote.spec["command"] == [
        "uv", "run", "--no-project", "--with", "pandas>=2", "bash", "-c", "python -c 'import pandas'",
    ]  # fmt: skip
    assert (remote.spec["flavor"], remote.spec["dockerImage"]) == ("a10g-small", "python:3.12")
    assert remote.spec["timeoutSeconds"] == 3600
    assert remote.spec["labels"]["name"] == "my-run-"
    assert job.hardware == "hf: a10g-small"
    fake.finish(remote.id, "COMPLETED", logs=("ok",))
    listed = service.list(backend="hf")  # one listing refreshes every unfinished hf job
    assert [(j.job_id, j.status) for j in listed] == [(job.job_id, "completed")]
    del fake.jobs[remote.id]  # gone on the Hub (deleted): the local record says so
    assert service.get(job.job_id).status == "completed"


def test_script_url_goes_through_run_uv_job(hf_service: JobService, fake: FakeHfJobs) -> None:
    fake.execute = False
    url = "https://huggingface.co/datasets/acme/scripts/resolve/main/sft.py"
    hf_service.submit(
        build_spec(backend="hf", script=url, script_args=["--epochs", "1"], dependencies=["trl"])
    )
    command = fake.only_job().spec["command"]
    assert command == ["uv", "run", "--with", "trl", url, "--epochs", "1"]
    assert fake.only_job().spec["dockerImage"] == "ghcr.io/astral-sh/uv:python3.12-bookworm"


def test_job_deleted_remotely_becomes_lost(hf_service: JobService, fake: FakeHfJobs) -> None:
    fake.execute = False
    job = hf_service.submit(build_spec(backend="hf", command="sleep 100"))
    del fake.jobs[fake.only_job().id]
    lost = hf_service.refresh(job.job_id)
    assert (lost.status, lost.message) == ("lost", "the job no longer exists on HF")


def test_billing_and_permission_errors_say_what_to_do(
    hf_service: JobService, fake: FakeHfJobs
) -> None:
    fake.payment_required.add("alice")
    with pytest.raises(UserError, match=r"payment required \(402\).*settings/billing"):
        hf_service.submit(build_spec(backend="hf", command="true", flavor="a10g-small"))
    with pytest.raises(UserError, match=r"namespace 'bigcorp' \(403\)"):
        hf_service.submit(build_spec(backend="hf", command="true", namespace="bigcorp"))
    fake.payment_required.clear()
    with pytest.raises(UserError, match="Invalid flavor 'h100x64'"):
        hf_service.submit(build_spec(backend="hf", command="true", flavor="h100x64"))
    assert hf_service.list() == [] and fake.jobs == {}


def test_wrong_token_and_unreachable_endpoint(hf_settings: Settings, fake: FakeHfJobs) -> None:
    hf_settings.hf_token = SecretStr("hf_wrong_token_00000000")
    service = JobService(hf_settings, StateStore(hf_settings.state_path))
    with pytest.raises(UserError, match=r"rejected HF_TOKEN \(401\)"):
        service.submit(build_spec(backend="hf", command="true"))
    hf_settings.hf_endpoint = "http://127.0.0.1:9"  # nothing listens on the discard port
    service = JobService(hf_settings, StateStore(hf_settings.state_path))
    with pytest.raises(UserError, match=r"Cannot reach Hugging Face at http://127\.0\.0\.1:9"):
        service.submit(build_spec(backend="hf", command="true", namespace="alice"))


def test_hardware_lists_flavors_with_hourly_prices(
    hf_service: JobService, fake: FakeHfJobs
) -> None:
    report = hf_service.hardware("hf")
    prices = {f.name: f.usd_per_hour for f in report.flavors}
    assert prices == {"cpu-basic": 0.01, "a10g-small": 1.0}  # $/minute * 60, to 4 places
    assert report.flavors[1].accelerator == "1x A10G (24 GB)"
    fake.hardware_down = True
    fallback = hf_service.hardware("hf")
    assert fallback.source.startswith("built-in table")
    assert "a10g-large" in {f.name for f in fallback.flavors}
    assert "could not be asked" in fallback.notes[0]


def test_many_unfinished_jobs_are_refreshed_with_one_listing(
    hf_service: JobService, fake: FakeHfJobs
) -> None:
    fake.execute = False
    jobs = [hf_service.submit(build_spec(backend="hf", command=f"sleep {i}")) for i in range(4)]
    wait_for(lambda: all(j.stage == "RUNNING" for j in fake.jobs.values()), 10, "running")
    fake.recorder.clear()
    listed = hf_service.list(backend="hf")
    assert {j.status for j in listed} == {"running"}
    assert [(r.method, r.path) for r in fake.recorder.requests] == [("GET", "/api/jobs/alice")]
    assert {j.job_id for j in listed} == {j.job_id for j in jobs}
