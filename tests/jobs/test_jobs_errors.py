"""Bad input gets an error that names the fix, and leaves no half-made job behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import free_port
from jobs_support import call, call_error, jobs_server, mcp_client

from server.errors import NotFoundError, UserError
from server.settings import Settings
from server.state import StateStore
from toolkits.jobs.core import JobService, build_spec


async def error_of(settings: Settings, tool: str, args: dict, era: str = "2026-07-28") -> str:
    async with mcp_client(jobs_server(settings), era) as c:
        return await call_error(c, tool, args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"backend": "slurm", "command": "true"}, "use one of: local, hf, ray"),
        ({"script": "missing.py"}, "Pass an absolute path, or set working_dir"),
        ({"command": "true", "timeout": -5}, "greater than or equal to 1"),
        ({}, "pass script='train.py'"),
        ({"script": "a.py", "command": "true"}, "either script or command"),
        ({"command": "true", "flavor": "a10g-small"}, "only apply to backend='hf'"),
        ({"command": "true", "secrets": ["NOT_SET_ANYWHERE_TOKEN"]}, "Export them"),
        ({"command": "true", "env": {"WANDB_API_KEY": "x"}}, "secrets=['WANDB_API_KEY']"),
        ({"command": "true", "working_dir": "sbx-nope"}, "sandbox_list"),
        ({"command": "true", "working_dir": "/no/such/dir"}, "outside the allowed roots"),
        ({"command": "true", "working_dir": "no/such/dir"}, "not a directory"),
        ({"backend": "hf", "command": "true"}, "HF_TOKEN is not set"),
        ({"script": "https://x.org/a.py"}, "only works on backend='hf'"),
        ({"command": "true", "dependencies": ["surely-not-installed-pkg"]}, "pip install"),
        (
            {"command": "true", "resources": {"cpus": 4096}},
            "Input should be less than or equal to 1024",
        ),
        ({"command": "true", "resources": {"cpus": 512}}, "Ask for at most"),
        ({"command": "true", "resources": {"gpus": 8}}, "GPU(s) were detected"),
    ],
)
async def test_bad_submissions_name_the_fix(
    settings: Settings, args: dict, expected: str, era: str
) -> None:
    message = await error_of(settings, "jobs_submit", args, era)
    assert expected in message
    assert leftover_job_dirs(settings) == []  # nothing half-made on disk...
    async with mcp_client(jobs_server(settings)) as c:
        listed = await call(c, "jobs_list", {})
    assert listed["total"] == 0  # ...nor in the state


def leftover_job_dirs(settings: Settings) -> list[Path]:
    return list((settings.home / "jobs").glob("*"))


@pytest.mark.parametrize("tool", ["jobs_status", "jobs_status", "jobs_logs", "jobs_cancel"])
async def test_unknown_job_id_points_to_jobs_list(settings: Settings, tool: str) -> None:
    message = await error_of(settings, tool, {"job_id": "j-12"})
    assert "No job 'j-12'" in message and "jobs_list" in message


async def test_bad_log_and_list_filters_say_what_to_pass(settings: Settings, workdir: Path) -> None:
    async with mcp_client(jobs_server(settings)) as c:
        job = await call(c, "jobs_submit", {"command": "echo hi", "working_dir": str(workdir)})
        ref = {"job_id": job["job_id"]}
        bad_grep = await call_error(c, "jobs_logs", {**ref, "grep": "loss[", "regex": True})
        assert "not a valid regular expression" in bad_grep
        bad_label = await call_error(c, "jobs_list", {"label": "a b"})
        assert "'key' or 'key=value'" in bad_label
        long_wait = await call_error(c, "jobs_status", {**ref, "wait_s": 600})
        assert "less than or equal to 55" in long_wait


def test_core_callers_get_the_same_clear_errors(service: JobService, workdir: Path) -> None:
    with pytest.raises(UserError, match="use one of: local, hf, ray"):
        build_spec(backend="gpu-cluster", command="true")
    with pytest.raises(UserError, match="timeout: Input should be greater than or equal to 1"):
        build_spec(command="true", timeout=-1)
    with pytest.raises(NotFoundError, match="jobs_list"):
        service.get("j-missing")
    (workdir / "sub").mkdir()
    (workdir / "train.py").write_text("")
    outside = build_spec(
        backend="ray", script=str(workdir / "train.py"), working_dir=str(workdir / "sub")
    )
    with pytest.raises(UserError, match=r"outside working_dir .* only working_dir is uploaded"):
        service.submit(outside)
    assert service.list() == []


def test_unreachable_ray_cluster_says_how_to_fix_it(settings: Settings, workdir: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'mlintern[ray]'")
    settings.ray_address = f"http://127.0.0.1:{free_port()}"
    service = JobService(settings, StateStore(settings.state_path))
    with pytest.raises(UserError, match=r"Start a cluster .* MLINTERN_RAY_ADDRESS"):
        service.submit(build_spec(backend="ray", command="true", working_dir=str(workdir)))
    assert service.list() == []
