"""Local jobs through the real MCP client: a real CPU PyTorch run, failures, waits, timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from fastmcp import Client
from jobs_support import (
    TRAIN,
    call,
    jobs_server,
    mcp_client,
    pid_gone,
    text_of,
    wait_for,
    wait_terminal,
)

from server.settings import Settings
from toolkits.jobs.backends import local_runner
from toolkits.jobs.core import JobService, build_spec


def tensorboard_files(log_dir: str) -> list[Path]:
    return list(Path(log_dir).glob("events.out.tfevents.*"))


async def wait_finished(client: Client, job_id: str, budget_s: float = 120) -> dict:
    deadline = time.monotonic() + budget_s
    while True:
        result = await call(client, "jobs_status", {"job_id": job_id, "wait_s": 55})
        if result["reached"] or time.monotonic() > deadline:
            return result


async def test_example_training_run_completes_with_logs_metrics_and_exit_code(
    settings: Settings, tmp_path: Path
) -> None:
    config = yaml.safe_load((TRAIN.parent / "config.yaml").read_text())
    config.update(steps=120, eval_every=40)
    config_file = tmp_path / "small.yaml"
    config_file.write_text(yaml.safe_dump(config))
    async with mcp_client(jobs_server(settings)) as c:
        submitted = await call(
            c,
            "jobs_submit",
            {
                "script": str(TRAIN),
                "config_file": str(config_file),
                "name": "mlp",
                "labels": {"kind": "example"},
            },
        )
        job = submitted
        assert job["status"] in ("queued", "running") and job["job_id"].startswith("j-")
        done = await wait_finished(c, job["job_id"])
        assert done["status"] == "completed", done
        assert done["exit_code"] == 0
        assert done["started_at"] and done["ended_at"] and done["runtime_s"] > 0
        # The job read the config through $MLINTERN_CONFIG_FILE (120 steps, not the default 300)
        # and wrote TensorBoard scalars to $MLINTERN_METRICS_DIR, which health reads back.
        assert done["health"]["last_metric_step"] == 120
        assert done["health"]["metric_source"] == "tensorboard"
        assert done["health"]["process_alive"] is False
        assert tensorboard_files(done["log_dir"])
        out = (await call(c, "jobs_logs", {"job_id": job["job_id"]}))["text"]
        assert "training 120 steps" in out
        assert [line.split()[1] for line in out.splitlines() if line.startswith("step ")] == [
            "40",
            "80",
            "120",
        ]
        assert "done: final val/loss" in out
        listed = await call(c, "jobs_list", {"label": "kind=example"})
        assert [j["job_id"] for j in listed["jobs"]] == [job["job_id"]]


async def test_diverging_lr_fails_with_exit_code_3_and_keeps_logging(
    settings: Settings, tmp_path: Path
) -> None:
    async with mcp_client(jobs_server(settings)) as c:
        job = await call(
            c,
            "jobs_submit",
            {"script": str(TRAIN), "script_args": ["--lr", "1000", "--steps", "60"]},
        )
        done = await wait_finished(c, job["job_id"])
        assert (done["status"], done["exit_code"]) == ("failed", 3)
        assert done["message"] == "exited with code 3"
        assert done["health"]["last_metric_step"] == 60  # logged to the end, NaN and all
        logs = await call(c, "jobs_logs", {"job_id": job["job_id"], "grep": "nan"})
        assert "diverged: final val/loss is nan" in logs["text"]


async def test_failure_exit_code_and_stderr_are_reported(
    settings: Settings, workdir: Path, era: str
) -> None:
    (workdir / "boom.py").write_text(
        "import sys\nprint('about to fail', flush=True)\n"
        "sys.stderr.write('ValueError: bad shape\\n')\nsys.exit(7)\n"
    )
    async with mcp_client(jobs_server(settings), era) as c:
        job = await call(c, "jobs_submit", {"script": "boom.py", "working_dir": str(workdir)})
        done = await wait_finished(c, job["job_id"], 30)
        assert (done["status"], done["exit_code"]) == ("failed", 7)
        assert done["working_dir"] == str(workdir)
        assert done["health"]["last_log_line"] == "ValueError: bad shape"
        logs = await call(c, "jobs_logs", {"job_id": job["job_id"]})
        assert "about to fail\nValueError: bad shape" in logs["text"]
        rendered = text_of(await c.call_tool("jobs_status", job_ref(job)))
        assert "[local] failed exit=7" in rendered and "message: exited with code 7" in rendered


def job_ref(job: dict) -> dict:
    return {"job_id": job["job_id"]}


async def test_wait_sends_progress_and_returns_when_the_job_ends(
    settings: Settings, workdir: Path
) -> None:
    (workdir / "nap.py").write_text("import time\ntime.sleep(2.5)\nprint('awake')\n")
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with mcp_client(jobs_server(settings), progress_handler=on_progress) as c:
        job = await call(c, "jobs_submit", {"script": str(workdir / "nap.py")})
        short = await c.call_tool("jobs_status", {**job_ref(job), "wait_s": 1})
        view = short.structured_content or {}
        assert (view["reached"], view["status"]) == (False, "running")
        assert "Still running" in text_of(short)
        started = time.monotonic()
        long = await call(c, "jobs_status", {**job_ref(job), "wait_s": 30})
        assert long["reached"] is True
        assert long["status"] == "completed"
        assert time.monotonic() - started < 10  # returned when the job ended, not at 30 s
    assert progress, "jobs_status(wait_s) sent no progress notification"
    assert {total for _, total, _ in progress} <= {1.0, 30.0}
    assert all(message and job["job_id"] in message for _, _, message in progress)


async def test_status_change_wait_returns_on_the_first_change(
    settings: Settings, workdir: Path
) -> None:
    settings.jobs_max_concurrent = 1
    (workdir / "short.py").write_text("import time\ntime.sleep(1)\n")
    async with mcp_client(jobs_server(settings)) as c:
        first = await call(c, "jobs_submit", {"script": str(workdir / "short.py")})
        second = await call(c, "jobs_submit", {"script": str(workdir / "short.py")})
        assert second["status"] == "queued"
        changed = await call(
            c, "jobs_status", {**job_ref(second), "wait_s": 20, "until": "status_change"}
        )
        assert changed["reached"] is True
        assert changed["status"] in ("running", "completed")
        first_now = await call(c, "jobs_status", job_ref(first))
        assert first_now["status"] == "completed"


async def test_timeout_stops_the_job_and_says_so(settings: Settings, workdir: Path) -> None:
    (workdir / "forever.py").write_text(
        "import subprocess, time\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        "print('child', child.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    # It reads host pids from inside the job: only without a PID namespace (isolated jobs:
    # test_jobs_isolation.py).
    settings_unisolated = settings.model_copy(update={"jobs_isolation": "off"})
    async with mcp_client(jobs_server(settings_unisolated)) as c:
        job = await call(c, "jobs_submit", {"script": str(workdir / "forever.py"), "timeout": 1})
        done = await wait_finished(c, job["job_id"], 40)
        assert done["status"] == "failed"
        assert "timeout of 1s" in done["message"]
        assert done["runtime_s"] < 20
        logs = (await call(c, "jobs_logs", job_ref(job)))["text"]
    child = int(next(line for line in logs.splitlines() if line.startswith("child")).split()[1])
    assert pid_gone(child)
    assert "ran longer than its timeout" in logs


def test_job_environment_has_the_mlintern_variables(service: JobService, workdir: Path) -> None:
    (workdir / "env.py").write_text(
        "import os\nfor k in ('MLINTERN_JOB_ID', 'MLINTERN_JOB_DIR', 'MLINTERN_METRICS_DIR', "
        "'MLINTERN_CONFIG_FILE', 'PLAIN', 'MLINTERN_HOME'):\n    print(k, os.environ.get(k))\n"
        "print('cwd', os.getcwd())\n"
    )
    (workdir / "c.yaml").write_text("a: 1\n")
    job = service.submit(
        build_spec(
            script="env.py", working_dir=str(workdir), config_file="c.yaml", env={"PLAIN": "x"}
        )
    )
    job = wait_terminal(service, job.job_id)
    lines = dict(line.split(" ", 1) for line in service.logs(job.job_id).text.splitlines())
    assert lines["MLINTERN_JOB_ID"] == job.job_id
    assert lines["MLINTERN_JOB_DIR"] == job.job_dir
    assert lines["MLINTERN_METRICS_DIR"] == job.log_dir == str(Path(job.job_dir) / "metrics")
    assert lines["MLINTERN_CONFIG_FILE"] == str(workdir / "c.yaml")
    assert lines["PLAIN"] == "x"
    assert lines["MLINTERN_HOME"] == "None"  # the server's own settings stay out
    assert lines["cwd"] == str(workdir)
    runner = local_runner.read_record(Path(job.job_dir))
    assert runner["exit_code"] == 0 and runner["child_pid"] != runner["runner_pid"]


def test_sandbox_workspace_and_cpu_pinning(service: JobService, settings: Settings) -> None:
    workspace = settings.home / "sandboxes" / "sbx-demo1" / "workspace"
    workspace.mkdir(parents=True)
    (workspace / "where.py").write_text(
        "import os\nprint('cwd', os.getcwd())\nprint('cpus', len(os.sched_getaffinity(0)))\n"
        "print('omp', os.environ.get('OMP_NUM_THREADS'))\n"
    )
    job = service.submit(
        build_spec(script="where.py", working_dir="sbx-demo1", resources={"cpus": 1})
    )
    assert job.hardware is not None and job.hardware.startswith("local: 1 CPU · isolated")
    done = wait_terminal(service, job.job_id)
    assert done.status == "completed"
    lines = service.logs(job.job_id, grep="^(cwd|cpus|omp) ", regex=True).text.splitlines()
    assert lines == [f"cwd {workspace}", "cpus 1", "omp 1"]


async def test_local_hardware_reports_this_machine(settings: Settings) -> None:
    async with mcp_client(jobs_server(settings)) as c:
        report = await c.call_tool("jobs_hardware", {})
    view = report.structured_content or {}
    assert view["cpus"] >= 1 and view["memory_gb"] > 0
    assert view["max_concurrent"] == settings.jobs_max_concurrent
    assert "GPUs:" in text_of(report)


def test_a_recorded_spec_resubmits_as_is(service: JobService, workdir: Path) -> None:
    """The spec is stored as given (relative paths stay relative to its working_dir), and
    submitting it again with a parent, as experiments_restart does, runs the same job."""
    (workdir / "run.py").write_text(
        "import os\nprint(open(os.environ['MLINTERN_CONFIG_FILE']).read())\n"
    )
    (workdir / "c.yaml").write_text("a: 1\n")
    job = service.submit(
        build_spec(script="run.py", config_file="c.yaml", working_dir=str(workdir))
    )
    assert (job.spec.script, job.spec.config_file) == ("run.py", "c.yaml")
    again = service.submit(job.spec, parent_job_id=job.job_id)
    assert wait_terminal(service, again.job_id).status == "completed"
    assert service.get(again.job_id).parent_job_id == job.job_id
    assert "a: 1" in service.logs(again.job_id).text


def test_finished_runners_are_reaped_not_left_as_zombies(
    service: JobService, workdir: Path
) -> None:
    job = service.submit(build_spec(command="echo done", working_dir=str(workdir)))
    wait_terminal(service, job.job_id)
    runner = local_runner.read_record(Path(job.job_dir))["runner_pid"]
    # The supervisor collects the runner's exit status once the job is over.
    wait_for(lambda: not Path(f"/proc/{runner}").exists(), 15, "the runner to be reaped")
