"""MLflow (file store and SQLite) and W&B offline runs, written by the real mlflow and wandb
packages from the example's training loop, read through MCP like every other source."""

from __future__ import annotations

import struct

import pytest
from experiments_world import experiments_server as make_server
from experiments_world import mcp_client as client
from fastmcp.exceptions import ToolError
from training_runs import train

from toolkits.experiments.sources import Located, read, trackers

pytest.importorskip("mlflow")
pytest.importorskip("wandb")
pytestmark = pytest.mark.slow

PLANTED = "hf_plantedsecretvalue123"  # a credential that ends up in a run's W&B config
SHORT = {"steps": 60, "eval_every": 20, "mlflow": True, "wandb": True}


def _tracked(tmp_path, name: str, config: dict, mlflow_uri: str):
    env = {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": str(tmp_path),
        "MLFLOW_TRACKING_URI": mlflow_uri,
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }
    return train(tmp_path, name, {**config, "project": name}, env=env, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two real runs: lr 0.1 into an mlruns/ file store, lr 1000 (NaN) into mlflow.db."""
    root = tmp_path_factory.mktemp("trackers")
    healthy = _tracked(root, "healthy", SHORT, f"file://{root / 'mlruns'}")
    exploded = _tracked(
        root,
        "exploded",
        {**SHORT, "optimizer": {"lr": 1000}, "note": PLANTED},
        f"sqlite:///{root / 'mlflow.db'}",
    )
    offline = sorted((root / "wandb").glob("offline-run-*"))
    assert len(offline) == 2
    return {"root": root, "tb": healthy, "tb_nan": exploded, "wandb": offline}


def _tb(path):
    return read(Located(str(path), path=path)).series


async def test_every_tracker_reads_the_same_numbers(settings, runs) -> None:
    root = runs["root"]
    expected = _tb(runs["tb"])
    first_wandb = runs["wandb"][0]
    async with client(make_server(settings)) as c:
        results = {
            source: (await c.call_tool("experiments_metrics", {"source": source}))
            for source in (str(root / "mlruns"), str(first_wandb))
        }
    for source, result in results.items():
        data = result.structured_content
        assert data["kind"] == ("wandb" if "offline-run" in source else "mlflow")
        assert data["tag_count"] == 3
        for tag in data["tags"]:
            series = expected[tag["tag"]]
            assert tag["points"] == len(series)
            assert tag["last"] == pytest.approx(float(series.values[-1]), rel=1e-6)
            assert tag["last_step"] == int(series.steps[-1])
            assert tag["last_update"] is not None


async def test_sqlite_backend_nan_is_diagnosed_and_runs_are_named(settings, runs) -> None:
    db = runs["root"] / "mlflow.db"
    located = trackers.detect(db)
    assert located is not None and located.kind == "mlflow"
    async with client(make_server(settings)) as c:
        check = await c.call_tool("experiments_check", {"source": f"{db}#{located.name}"})
        with pytest.raises(ToolError) as missing:
            await c.call_tool("experiments_metrics", {"source": f"{db}#no-such-run"})
    findings = {(f["metric"], f["state"]): f for f in check.structured_content["diagnosis"]}
    assert findings[("val/loss", "nan")]["numbers"]["first_non_finite_step"] == 20
    assert check.structured_content["status"] == "action_needed"
    assert f"No MLflow run 'no-such-run' in {db}. Runs (newest first): {located.name} (" in str(
        missing.value
    )


async def test_compare_across_trackers_and_plot(settings, runs, monkeypatch) -> None:
    root = runs["root"]
    healthy_wandb, exploded_wandb = runs["wandb"]
    # A credential the server knows must not come back even if a run's config holds it.
    monkeypatch.setenv("HF_TOKEN", PLANTED)
    sources = [str(runs["tb"]), str(root / "mlruns"), str(exploded_wandb), f"{root / 'mlflow.db'}"]
    async with client(make_server(settings)) as c:
        compared = await c.call_tool("experiments_compare", {"sources": sources})
        plot = await c.call_tool(
            "experiments_metrics", {"source": str(healthy_wandb), "plot": True}
        )
    data = compared.structured_content
    assert [r["kind"] for r in data["runs"]] == ["tensorboard", "mlflow", "wandb", "mlflow"]
    loss = next(row for row in data["tags"] if row["tag"] == "val/loss")
    assert loss["runs"][0]["last"] == pytest.approx(loss["runs"][1]["last"], rel=1e-6)
    assert loss["runs"][2]["non_finite"] == loss["runs"][3]["non_finite"] == 3
    assert loss["best_run"] in (0, 1)
    assert data["runs"][2]["config_from"].startswith("wandb run ")
    assert data["runs"][3]["config_from"].startswith("mlflow run ")
    lr = next(d for d in data["config_differences"] if d["key"] == "lr")
    assert lr["values"][3] == "1000" and lr["values"][1] == "0.1"
    wandb_lr = next(d for d in data["config_differences"] if d["key"] == "optimizer.lr")
    assert wandb_lr["values"][2] == 1000  # positive control: W&B config values do come back
    note = next(d for d in data["config_differences"] if d["key"] == "note")
    assert note["values"][2] == "[REDACTED:HF_TOKEN]"
    assert (
        PLANTED not in compared.content[0].text
        and "[REDACTED:HF_TOKEN]" in compared.content[0].text
    )
    assert plot.structured_content["plot"]["tags"] == ["train/loss", "val/accuracy", "val/loss"]
    assert plot.content[0].type == "image"


def _record(kind: int, body: bytes) -> bytes:
    import zlib

    crc = zlib.crc32(body, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF
    return struct.pack("<IHB", crc, len(body), kind) + body


async def test_hostile_wandb_logs(settings, tmp_path, runs) -> None:
    from toolkits.experiments.sources.wandb_offline import HEADER

    real = next(runs["wandb"][0].glob("run-*.wandb")).read_bytes()
    bad_dir = tmp_path / "offline-run-20260101_000000-bad"
    bad_dir.mkdir()
    # A torn tail (a record cut short, then a bad checksum) after the real records.
    torn = real + _record(1, b"\x08\x01")[:-1] + b"\xff" * 20
    (bad_dir / "run-bad.wandb").write_bytes(torn)
    garbage = tmp_path / "garbage.wandb"
    garbage.write_bytes(b"not a wandb log at all" * 10)
    lying = tmp_path / "lying.wandb"
    lying.write_bytes(HEADER + _record(1, b"\xff\xff\xff\xff\x0f"))  # a protobuf that lies
    async with client(make_server(settings)) as c:
        torn_result = await c.call_tool("experiments_metrics", {"source": str(bad_dir)})
        with pytest.raises(ToolError) as not_wandb:
            await c.call_tool("experiments_metrics", {"source": str(garbage)})
        lied = await c.call_tool("experiments_metrics", {"source": str(lying)})
    assert torn_result.structured_content["tag_count"] == 3  # every complete record kept
    assert f"{garbage} is not a W&B run log (no :W&B header)." in str(not_wandb.value)
    assert lied.structured_content["tag_count"] == 0
    assert "did not parse; skipped" in lied.structured_content["problems"][0]


def test_a_wandb_run_is_named_by_its_folder_or_its_id(runs) -> None:
    from server.errors import NotFoundError
    from toolkits.experiments.sources import wandb_offline

    root = runs["root"]
    first, second = runs["wandb"]  # offline-run-<time>-<id>, in name order: second is newest
    assert wandb_offline.pick(root, None).parent == second
    assert wandb_offline.pick(root, first.name.rsplit("-", 1)[-1]).parent == first
    assert wandb_offline.pick(root, first.name).parent == first
    with pytest.raises(NotFoundError) as missing:
        wandb_offline.pick(root, "nope")
    assert str(missing.value) == (
        f"No W&B run 'nope' in {root}. Runs (newest first): {second.name}, {first.name}."
    )
