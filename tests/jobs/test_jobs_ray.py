"""The ray backend against a real local Ray head (started once per session, stopped by pid)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from jobs_support import TRAIN, call, jobs_server, mcp_client, wait_for

from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService, build_spec


@pytest.fixture
def ray_settings(settings: Settings, ray_address: str) -> Settings:
    settings.ray_address = ray_address
    return settings


@pytest.fixture
def ray_service(ray_settings: Settings) -> JobService:
    return JobService(ray_settings, StateStore(ray_settings.state_path))


def until_terminal(service: JobService, job_id: str, timeout: float = 120):
    wait_for(lambda: service.refresh(job_id).is_terminal, timeout, f"ray job {job_id}", step=0.5)
    return service.get(job_id)


async def test_example_training_script_completes_on_ray_with_logs(
    ray_settings: Settings, tmp_path: Path
) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump({"steps": 60, "eval_every": 30}))
    async with mcp_client(jobs_server(ray_settings)) as c:
        job = await call(
            c,
            "jobs_submit",
            {"backend": "ray", "script": str(TRAIN), "config_file": str(config), "name": "mlp"},
        )
        assert job["url"] == f"{ray_settings.ray_address}/#/jobs/{job['job_id']}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            done = await call(c, "jobs_status", {"job_id": job["job_id"], "wait_s": 55})
            if done["reached"]:
                break
        assert (done["status"], done["exit_code"]) == ("completed", 0), done
        logs = await call(c, "jobs_logs", {"job_id": job["job_id"]})
    # Only the script and its config were uploaded; the job found the config through
    # $MLINTERN_CONFIG_FILE (60 steps, not the default 300).
    assert "training 60 steps" in logs["text"]
    assert "step 60 train/loss" in logs["text"]
    assert "done: final val/loss" in logs["text"]


def test_failure_exit_code_working_dir_and_env_on_ray(
    ray_service: JobService, workdir: Path
) -> None:
    (workdir / "pkg").mkdir()
    (workdir / "pkg" / "helper.py").write_text("VALUE = 'from the uploaded dir'\n")
    (workdir / "main.py").write_text(
        "import os, sys\nsys.path.insert(0, 'pkg')\nimport helper\n"
        "print(helper.VALUE, os.environ['PLAIN'], os.environ['MLINTERN_JOB_ID'], sys.argv[1:])\n"
        "sys.exit(5)\n"
    )
    job = ray_service.submit(
        build_spec(
            backend="ray",
            script="main.py",
            script_args=["--x", "1"],
            working_dir=str(workdir),
            env={"PLAIN": "plain-value"},
            resources={"cpus": 1},
        )
    )
    done = until_terminal(ray_service, job.job_id)
    assert (done.status, done.exit_code) == ("failed", 5)
    assert done.hardware == "ray: 1 CPU"
    text = ray_service.logs(job.job_id).text
    assert f"from the uploaded dir plain-value {job.job_id} ['--x', '1']" in text


def test_cancel_and_timeout_stop_ray_jobs(ray_service: JobService, workdir: Path) -> None:
    (workdir / "sleepy.py").write_text(
        "import time\nprint('sleeping', flush=True)\ntime.sleep(300)\n"
    )
    spec = build_spec(backend="ray", script=str(workdir / "sleepy.py"))
    job = ray_service.submit(spec)
    wait_for(lambda: ray_service.refresh(job.job_id).status == "running", 60, "running", step=0.3)
    stopped = ray_service.cancel(job.job_id)
    assert stopped.status == "cancelled"
    timed = ray_service.submit(spec.model_copy(update={"timeout": 2}))
    done = until_terminal(ray_service, timed.job_id, timeout=60)
    assert (done.status, done.exit_code) == ("failed", 124)  # coreutils timeout's code


def test_ray_hardware_reports_the_cluster(ray_service: JobService) -> None:
    report = ray_service.hardware("ray")
    assert report.nodes == 1
    assert report.cpus == 2  # the head was started with --num-cpus=2
    assert report.resources["CPU"] == 2


def test_pip_dependencies_go_through_the_runtime_env(
    ray_service: JobService, workdir: Path
) -> None:
    # pyyaml is installed here already, so pip needs no network; what shows that Ray honoured
    # the dependency is the virtualenv it built for the job.
    (workdir / "deps.py").write_text(
        "import sys, yaml\nprint('venv', sys.prefix != sys.base_prefix, 'yaml', yaml.__version__)\n"
    )
    job = ray_service.submit(
        build_spec(backend="ray", script=str(workdir / "deps.py"), dependencies=["pyyaml"])
    )
    done = until_terminal(ray_service, job.job_id, timeout=180)
    assert done.status == "completed", ray_service.logs(job.job_id).text
    assert "venv True yaml" in ray_service.logs(job.job_id).text


def test_many_jobs_are_followed_through_one_listing(ray_service: JobService) -> None:
    jobs = [
        ray_service.submit(build_spec(backend="ray", command=f"echo job {i}")) for i in range(4)
    ]
    wait_for(
        lambda: all(j.status == "completed" for j in ray_service.list(backend="ray")),
        120,
        "four ray jobs",
        step=0.5,
    )
    assert {j.job_id for j in ray_service.list(backend="ray")} == {j.job_id for j in jobs}
    assert "job 2" in ray_service.logs(jobs[2].job_id).text
