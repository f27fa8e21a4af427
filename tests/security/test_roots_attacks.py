"""A model steered by what it read tries to reach past the roots through the path-taking tools.

Fake credentials are planted in a fake home (a Kaggle key, a Hugging Face token, AWS keys) and in
a folder outside every root. Every attack has a positive control next to it: the same tool on a
legitimate file inside a root works, so a guard that refuses everything cannot pass.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from helpers import client

from server.app import build_server
from server.settings import Settings

KAGGLE_KEY = "kaggle-fake-key-5f1e2d3c4b5a69788796"
HF_FAKE = "hf_FakeTokenForTests0123456789abcdefgh"
OUTSIDE_SECRET = "outside-secret-value-0a9b8c7d6e5f"


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("text,label\ngood,1\nbad,0\n")
    fake_home = data / "home"  # inside a root on purpose: credential files stay refused
    (fake_home / ".kaggle").mkdir(parents=True)
    (fake_home / ".kaggle" / "kaggle.json").write_text(json.dumps({"key": KAGGLE_KEY}))
    (fake_home / ".cache" / "huggingface").mkdir(parents=True)
    (fake_home / ".cache" / "huggingface" / "token").write_text(HF_FAKE)
    (fake_home / ".aws").mkdir()
    (fake_home / ".aws" / "credentials.json").write_text(json.dumps({"key": OUTSIDE_SECRET}))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(f"token\n{OUTSIDE_SECRET}\n")
    return {"data": data, "home": fake_home, "outside": outside}


def only_data_root(tmp_path: Path, data: Path) -> Settings:
    return Settings(home=tmp_path / "state", roots=[data], _env_file=None)  # type: ignore[call-arg]


async def refused(c: Client, tool: str, arguments: dict, match: str) -> str:
    with pytest.raises(ToolError, match=match) as caught:
        await c.call_tool(tool, arguments)
    text = str(caught.value)
    for secret in (KAGGLE_KEY, HF_FAKE, OUTSIDE_SECRET):
        assert secret not in text
    return text


async def test_datasets_tools_refuse_credentials_and_paths_outside_the_roots(
    tmp_path: Path, world: dict[str, Path], era: str
) -> None:
    settings = only_data_root(tmp_path, world["data"])
    kaggle = world["home"] / ".kaggle" / "kaggle.json"
    async with client(build_server(settings), era) as c:
        ok = await c.call_tool(
            "datasets_inspect", {"dataset": str(world["data"] / "train.csv"), "sql": "SELECT * FROM data"}
        )  # fmt: skip
        assert ok.structured_content["rows"] == [["good", 1], ["bad", 0]]

        await refused(c, "datasets_inspect", {"dataset": str(kaggle), "sql": "SELECT * FROM data"}, "credential file")  # fmt: skip
        await refused(c, "datasets_inspect", {"dataset": str(kaggle)}, "credential file")
        token = world["home"] / ".cache" / "huggingface" / "token"
        await refused(c, "datasets_inspect", {"dataset": str(token)}, "credential file")
        outside = str(world["outside"] / "secret.csv")
        message = await refused(c, "datasets_inspect", {"dataset": outside}, "outside the allowed roots")  # fmt: skip
        assert (
            str(world["data"]) in message
            and "--root DIR" in message
            and "MLINTERN_ROOTS" in message
        )
        # The SQL itself cannot name another file either.
        sql = f"SELECT * FROM read_csv('{outside}')"
        await refused(c, "datasets_inspect", {"dataset": str(world["data"] / "train.csv"), "sql": sql}, "Permission Error")  # fmt: skip

    # mlintern's own state directory is not a root, even when its parent is.
    parent_root = settings.model_copy(update={"roots": [tmp_path]})
    (settings.home / "cache").mkdir(parents=True, exist_ok=True)
    (settings.home / "cache" / "x.csv").write_text("a\n1\n")
    async with client(build_server(parent_root), era) as c:
        await refused(c, "datasets_inspect", {"dataset": str(settings.home / "cache" / "x.csv")}, "state directory")  # fmt: skip

    # Positive control: the operator adds the folder, and the same call works.
    wider = settings.model_copy(update={"roots": [world["data"], world["outside"]]})
    async with client(build_server(wider), era) as c:
        shown = await c.call_tool("datasets_inspect", {"dataset": outside})
        assert shown.structured_content["splits"][0]["rows"] == 1


async def test_a_folder_of_planted_symlinks_yields_only_its_real_files(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    folder = world["data"] / "planted"
    folder.mkdir()
    (folder / "real.csv").write_text("text\nhello\n")
    os.symlink(world["outside"] / "secret.csv", folder / "leak.csv")
    os.symlink("/etc/shadow", folder / "shadow.csv")
    os.symlink(world["home"] / ".kaggle" / "kaggle.json", folder / "kaggle.json")
    settings = only_data_root(tmp_path, world["data"])
    async with client(build_server(settings)) as c:
        result = await c.call_tool(
            "datasets_inspect", {"dataset": str(folder), "sql": "SELECT * FROM data"}
        )
    assert result.structured_content["rows"] == [["hello"]]
    text = json.dumps(result.structured_content)
    assert OUTSIDE_SECRET not in text and KAGGLE_KEY not in text and "root:" not in text


async def test_a_fifo_under_a_data_name_never_blocks_the_server(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    folder = world["data"] / "with-fifo"
    folder.mkdir()
    (folder / "ok.csv").write_text("x\n1\n")
    os.mkfifo(folder / "stuck.csv")
    os.mkfifo(world["data"] / "alone.csv")
    settings = only_data_root(tmp_path, world["data"])
    with anyio.fail_after(20):  # a blocked open would hang here, not fail
        async with client(build_server(settings)) as c:
            await refused(c, "datasets_inspect", {"dataset": str(world["data"] / "alone.csv")}, "not a regular file")  # fmt: skip
            result = await c.call_tool(
                "datasets_inspect", {"dataset": str(folder), "sql": "SELECT * FROM data"}
            )
    assert result.structured_content["rows"] == [[1]]


async def test_experiments_read_only_inside_the_roots(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    metrics = world["data"] / "metrics.jsonl"
    metrics.write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n')
    (world["outside"] / "metrics.jsonl").write_text(f'{{"step": 1, "{OUTSIDE_SECRET}": 1}}\n')
    settings = only_data_root(tmp_path, world["data"])
    async with client(build_server(settings)) as c:
        ok = await c.call_tool("experiments_metrics", {"source": str(metrics)})
        assert [t["tag"] for t in ok.structured_content["tags"]] == ["loss"]
        await refused(c, "experiments_metrics", {"source": str(world["outside"] / "metrics.jsonl")}, "outside the allowed roots")  # fmt: skip
        prefs = world["outside"] / "preferences.md"
        prefs.write_text("# p\n\n```yaml\nmetrics:\n  loss: {threshold: 1}\n```\n")
        await refused(c, "experiments_check", {"source": str(metrics), "preferences": str(prefs)}, "outside the allowed roots")  # fmt: skip


async def test_restart_writes_no_file_through_a_planted_symlink(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    config = world["data"] / "config.yaml"
    config.write_text("lr: 0.1  # the learning rate\n")
    settings = only_data_root(tmp_path, world["data"])
    async with client(build_server(settings)) as c:
        job = await c.call_tool(
            "jobs_submit",
            {"command": "true", "working_dir": str(world["data"]), "config_file": "config.yaml"},
        )
        job_id = job.structured_content["job_id"]
        # Sandbox-style code plants a dangling symlink at the name the restart will use.
        target = world["outside"] / "owned.yaml"
        os.symlink(target, world["data"] / f"config.restart-{job_id}-1.yaml")
        restarted = await c.call_tool(
            "experiments_restart",
            {"job_id": job_id, "config_changes": {"lr": 0.05}, "reason": "lower lr"},
        )
    written = Path(restarted.structured_content["config_file"])
    if not written.is_absolute():
        written = world["data"] / written
    assert not target.exists(), "the write followed the planted symlink"
    assert not written.is_symlink()
    assert (
        written.read_text().startswith("lr: 0.05") and "# the learning rate" in written.read_text()
    )


async def test_a_credentials_config_is_refused_at_submit_and_at_restart(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    creds = world["home"] / ".aws" / "credentials.json"
    settings = only_data_root(tmp_path, world["data"])
    async with client(build_server(settings)) as c:
        await refused(c, "jobs_submit", {"command": "true", "config_file": str(creds)}, "credential file")  # fmt: skip
        # A config a wider server once accepted, restarted by a server whose roots exclude it.
        (world["outside"] / "cfg.json").write_text(json.dumps({"lr": 0.1, "key": OUTSIDE_SECRET}))
    wide = settings.model_copy(update={"roots": [world["data"], world["outside"]]})
    async with client(build_server(wide)) as c:
        job = await c.call_tool(
            "jobs_submit", {"command": "true", "config_file": str(world["outside"] / "cfg.json")}
        )
        job_id = job.structured_content["job_id"]
    async with client(build_server(settings)) as c:
        await refused(c, "experiments_restart", {"job_id": job_id, "config_changes": {"lr": 0.01}, "reason": "r"}, "outside the allowed roots")  # fmt: skip
    state = (settings.home / "state.sqlite3").read_bytes()
    assert OUTSIDE_SECRET.encode() not in state
    journals = list((settings.home / "experiments").rglob("*.md")) if (settings.home / "experiments").exists() else []  # fmt: skip
    assert all(OUTSIDE_SECRET not in j.read_text() for j in journals)


async def test_the_clients_roots_are_roots_too(tmp_path: Path, world: dict[str, Path]) -> None:
    settings = only_data_root(tmp_path, world["data"])
    outside = str(world["outside"] / "secret.csv")
    # Roots are a handshake-era capability (deprecated as of 2026-07-28).
    offered = client(build_server(settings), "legacy", roots=[world["outside"].as_uri()])
    async with offered as c:
        shown = await c.call_tool("datasets_inspect", {"dataset": outside})
        assert shown.structured_content["splits"][0]["rows"] == 1
    async with client(build_server(settings), "legacy") as c:  # the same call, no client roots
        await refused(c, "datasets_inspect", {"dataset": outside}, "outside the allowed roots")


async def test_preflight_runs_nothing_outside_the_roots(
    tmp_path: Path, world: dict[str, Path]
) -> None:
    (world["outside"] / "leak.py").write_text("print(open('secret.csv').read())\n")
    settings = only_data_root(tmp_path, world["data"])
    async with client(build_server(settings)) as c:
        await refused(c, "jobs_preflight", {"script": str(world["outside"] / "leak.py")}, "outside the allowed roots")  # fmt: skip
        await refused(c, "jobs_preflight", {"command": "cat secret.csv", "working_dir": str(world["outside"])}, "outside the allowed roots")  # fmt: skip
        creds = world["home"] / ".aws" / "credentials.json"
        await refused(c, "jobs_preflight", {"command": "true", "working_dir": str(world["data"]), "config_file": str(creds)}, "credential file")  # fmt: skip
