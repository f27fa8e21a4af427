"""jobs_preflight over real runs of the example MLP: timing and cost estimates, an out-of-memory
run (a memory cap) answered by a smaller batch that was tried, and a stdout-only script."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from jobs_support import TRAIN, jobs_server, mcp_client, text_of

pytestmark = pytest.mark.slow
PLANTED = "hf_preflightplantedtoken42"


def _data(result) -> dict[str, Any]:
    assert result.structured_content is not None, result.content
    return result.structured_content


def _config(tmp_path, **changes) -> str:
    config = yaml.safe_load((TRAIN.parent / "config.yaml").read_text())
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**config, **changes}))
    return str(path)


async def test_example_preflight_estimates_time_and_cost(settings, tmp_path) -> None:
    config = _config(tmp_path, log_dir=str(tmp_path / "elsewhere"))
    async with mcp_client(jobs_server(settings)) as c:
        result = await c.call_tool(
            "jobs_preflight",
            {
                "script": str(TRAIN),
                "config_file": config,
                "working_dir": str(tmp_path),
                "steps": 60,
            },
        )
    data = _data(result)
    measured = data["measured"]
    assert data["fits"] is True and measured["exit_code"] == 0
    assert data["full_steps"] == 300 and data["preflight_steps"] == 60
    assert measured["last_step"] == 60 and measured["loss_tag"] == "train/loss"
    assert measured["loss_finite"] is True and measured["loss_moving"] is True
    assert measured["peak_host_mb"] > 50
    timing = measured["timing"]
    assert measured["samples_per_second"] == pytest.approx(64 / timing["seconds_per_step"], 1e-3)
    # The parts: start-up, warm-up once, the steps after it at the steady time, the evaluations
    # (every 50 steps, seen at 50 and in the config; plus the script's own at its last step, 60)
    # and the teardown the preflight measured.
    assert timing["basis"] == "metrics" and timing["first_step"] == 1
    assert (timing["eval_every"], timing["eval_at_end"]) == (50, True)
    assert 0 < timing["startup_s"] < measured["wall_s"] and 0 <= timing["teardown_s"] < 30
    warm = 1 + timing["warmup_steps"]
    wall = data["estimated_full_wall_s"]
    parts = (
        timing["startup_s"]
        + timing["warmup_s"]
        + (300 - warm) * timing["seconds_per_step"]
        + (6 - warm // 50) * timing["eval_s"]
        + timing["teardown_s"]
    )
    assert wall == pytest.approx(parts, abs=2e-3)
    assert f"{300 - warm} steps x " in data["estimate_basis"]
    t4 = next(h for h in data["hardware"] if h["flavor"] == "t4-small")
    assert t4["estimated_usd"] == pytest.approx(wall / 3600 * 0.40, abs=1e-6)  # 6 decimals
    assert not (tmp_path / "elsewhere").exists()  # the copy's log_dir was redirected
    assert f"full run (300 steps): ~{wall:.0f}s here = " in text_of(result)
    assert list((settings.home / "preflight").iterdir()) == []  # nothing left once reported


async def test_out_of_memory_recommends_a_smaller_batch_that_fits(settings, tmp_path) -> None:
    config = _config(tmp_path, batch_size=1_000_000)
    async with mcp_client(jobs_server(settings)) as c:
        result = await c.call_tool(
            "jobs_preflight",
            {"script": str(TRAIN), "config_file": config, "steps": 5, "memory_mb": 1500},
        )
    data = _data(result)
    assert data["measured"]["out_of_memory"] is True and data["fits"] is False
    first = data["recommendations"][0]
    assert first["verified"] is True
    assert first["config_changes"] == {"batch_size": 500_000, "gradient_accumulation_steps": 2}
    assert "same effective batch 1000000" in first["change"]
    kinds = [r["change"].split(":")[0] for r in data["recommendations"][1:]]
    assert kinds == [
        "activation (gradient) checkpointing",
        "mixed precision (bf16, or fp16 with loss scaling)",
        "bigger hardware",
    ]
    assert data["recommendations"][-1]["usd_per_hour"] == 0.01
    assert text_of(result).startswith("Preflight OUT OF MEMORY")


async def test_stdout_only_script_and_no_credentials(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", PLANTED)
    script = tmp_path / "prints.py"
    script.write_text(
        "import os, time\n"
        "print('token', os.environ.get('HF_TOKEN'), 'mode', os.environ.get('MODE'), flush=True)\n"
        "for step in range(1, 41):\n"
        "    print(f'step {step} loss {1 / step:.3f}', flush=True)\n"
        "    time.sleep(0.05)\n"
    )
    async with mcp_client(jobs_server(settings)) as c:
        result = await c.call_tool(
            "jobs_preflight", {"script": str(script), "env": {"MODE": "fast"}, "seconds": 30}
        )
    measured = _data(result)["measured"]
    assert measured["last_step"] == 40 and measured["steps_seen"] == 40
    assert 0.04 < measured["timing"]["seconds_per_step"] < 0.2
    assert measured["timing"]["basis"] == "stdout"
    assert "token None mode fast" in measured["output_tail"]  # scrubbed; plain env passes
    assert PLANTED not in str(_data(result))


@pytest.mark.parametrize(("load", "busy"), [(9.0, True), (0.5, False)])
async def test_a_busy_machine_is_said_to_make_the_times_rough(
    settings, tmp_path, monkeypatch, load, busy
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.setattr("os.getloadavg", lambda: (load, load, load))
    script = tmp_path / "steps.py"
    script.write_text("for step in range(1, 6):\n    print(f'step {step}', flush=True)\n")
    async with mcp_client(jobs_server(settings)) as c:
        result = await c.call_tool("jobs_preflight", {"script": str(script), "seconds": 20})
    note = "machine busy (load 9.0, 4 cores): the times are rough"
    assert (note in _data(result)["notes"]) is busy
    assert _data(result)["measured"]["last_step"] == 5
