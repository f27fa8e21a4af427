"""Stalled and stuck jobs are a state: jobs_status, experiments_check and preferences rules see
them, over real local jobs (one that logs then hangs, one that waits in the queue)."""

from __future__ import annotations

import asyncio
import time

import pytest
from experiments_world import experiments_server as make_server
from experiments_world import mcp_client as client

from agent.watch import JobChain, progress_of, tick_line
from toolkits.jobs.stalls import usual_interval

pytestmark = pytest.mark.slow

# Logs a metric and a line every 0.1 s for 30 steps, then hangs (alive, silent).
HANGS = """
import json, os, time
path = os.path.join(os.environ["MLINTERN_METRICS_DIR"], "metrics.jsonl")
with open(path, "a") as out:
    for step in range(1, 31):
        out.write(json.dumps({"step": step, "loss": 1 / step, "wall_time": time.time()}) + "\\n")
        out.flush()
        print("step", step, flush=True)
        time.sleep(0.1)
time.sleep(120)
"""
STALL_RULE = "```yaml\nrules:\n  - name: hung\n    when: stalled\n    action: stop\n```\n"


async def _poll(c, job_id: str, until, within: float = 60):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await c.call_tool("jobs_status", {"job_id": job_id})
        if until(result.structured_content):
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"{job_id}: condition not met in {within}s: {result.structured_content}")


async def test_a_hanging_job_is_stalled_and_a_rule_stops_it(settings, tmp_path) -> None:
    settings = settings.model_copy(update={"stall_floor_s": 2.0, "stall_factor": 5.0})
    script = tmp_path / "hangs.py"
    script.write_text(HANGS)
    tmp_path.chmod(0o755)  # pytest makes it 0700; an isolated job (uid 65534) enters it
    async with client(make_server(settings, "jobs")) as c:
        job = (await c.call_tool("jobs_submit", {"script": str(script)})).structured_content
        job_id = job["job_id"]
        try:
            # Positive control: while it logs, it is not stalled.
            live = await _poll(c, job_id, lambda d: (d["health"]["last_metric_step"] or 0) >= 5)
            assert live.structured_content["health"]["progress"] == "ok"
            stalled = await _poll(c, job_id, lambda d: d["health"]["progress"] == "stalled")
            health = stalled.structured_content["health"]
            assert health["last_metric_step"] == 30 and health["process_alive"] is True
            assert "alive but silent: no new log line or metric step for" in health["progress_note"]
            assert "STALLED: alive but silent" in stalled.content[0].text
            check = await c.call_tool(
                "experiments_check", {"source": job_id, "preferences": STALL_RULE}
            )
            default = await c.call_tool("experiments_check", {"source": job_id})
            chain = JobChain(settings, job_id)  # what mlintern-agent watch reports each tick
            line = tick_line(
                1, chain.refresh(), "ok", None, False, progress_of(chain, chain.refresh())
            )
            assert f"tick 1 · {job_id} running · STALLED: alive but silent" in line
        finally:
            await c.call_tool("jobs_cancel", {"job_id": job_id})
    data = check.structured_content
    verdict = next(v for v in data["verdicts"] if v["kind"] == "stalled")
    assert verdict["severity"] == "fail" and verdict["numbers"]["bound_s"] == 2.0
    assert 0.05 < verdict["numbers"]["usual_interval_s"] < 1.0
    assert data["rules"][0]["fired"] is True
    assert data["actions"][0]["call"] == f"jobs_cancel(job_id={job_id!r})"
    assert any(v["kind"] == "stalled" for v in default.structured_content["verdicts"])


async def test_a_job_waiting_in_the_queue_is_stuck(settings, tmp_path) -> None:
    settings = settings.model_copy(update={"jobs_max_concurrent": 1, "job_stuck_after_s": 0.5})
    async with client(make_server(settings, "jobs")) as c:
        first = (await c.call_tool("jobs_submit", {"command": "sleep 60"})).structured_content
        queued = (await c.call_tool("jobs_submit", {"command": "true"})).structured_content
        try:
            assert queued["status"] == "queued"
            stuck = await _poll(c, queued["job_id"], lambda d: d["health"]["progress"] == "stuck")
            rule = STALL_RULE.replace("stalled", "stuck")
            check = await c.call_tool(
                "experiments_check", {"source": queued["job_id"], "preferences": rule}
            )
        finally:
            for job in (queued, first):
                await c.call_tool("jobs_cancel", {"job_id": job["job_id"]})
    assert stuck.structured_content["health"]["progress_note"].startswith("queued for ")
    assert check.structured_content["rules"][0]["fired"] is True


def test_usual_interval_ignores_repeats_and_gaps_without_time() -> None:
    assert usual_interval([[0.0, 1.0, 2.0, 3.0], [1.0, 2.0, float("nan")]]) == 1.0
    assert usual_interval([[5.0]]) is None and usual_interval([]) is None
