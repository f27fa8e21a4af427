"""Webhook notifications (server/notify.py) over real local jobs and real CPU training runs of
the example, through MCP, to a receiver on loopback: the exact payloads, a job's end sent once
whoever looks, the rate limit, a retry after a 500, no hang while the receiver is down, a full
queue, and planted credentials that must not reach the receiver (with positive controls)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml
from experiments_world import experiments_server as make_server
from experiments_world import finished
from experiments_world import mcp_client as client
from fakes.loopback import run_fake
from fakes.webhook import WebhookReceiver
from helpers import free_port, job_folder
from pydantic import SecretStr
from training_runs import TRAIN

from server import notify
from server.state import StateStore
from toolkits.jobs.core import JobService

pytestmark = pytest.mark.slow

PLANTED = "hf_FAKEplantedTOKENabcdefghijklmnopqrstuvw"  # a Hugging Face token's shape
END_KEYS = {"job_id", "name", "status", "exit_code", "message", "backend", "hardware"}
END_KEYS |= {"wall_s", "url", "event", "key", "summary", "time"}


def _settings(settings, url: str, **extra):
    update = {"notify_webhooks": SecretStr(url), "notify_format": "json", **extra}
    return settings.model_copy(update=update)


def _config(tmp_path: Path, name: str, **values) -> Path:
    path = tmp_path / f"{name}.yaml"
    base = {
        "steps": 60,
        "eval_every": 20,
        "batch_size": 32,
        "hidden": 16,
        "optimizer": {"name": "sgd", "lr": 0.1},
    }
    path.write_text(yaml.safe_dump({**base, **values}))
    return path


async def test_job_ends_are_sent_once_with_exact_fields_and_no_secret(settings, tmp_path) -> None:
    receiver = WebhookReceiver()
    with run_fake(receiver) as fake:
        settings = _settings(settings, fake.url + "/hook")
        work = job_folder(tmp_path / "work")  # what an isolated job (uid 65534) can read
        good = _config(work, "good")
        bad = _config(work, "bad", optimizer={"name": "sgd", "lr": 1000.0})
        # The diverging run exits 3, then a line with a planted token is the log's last word.
        shutil.copy(TRAIN, work / "train.py")  # an isolated command job sees its working dir
        failing = (
            f"{sys.executable} -u train.py --config {bad}; code=$?; "
            f"echo 'push to the hub failed with {PLANTED}'; exit $code"
        )
        async with client(make_server(settings, "jobs")) as c:
            ok = await c.call_tool(
                "jobs_submit", {"script": str(TRAIN), "config_file": str(good), "name": "mlp"}
            )
            fail = await c.call_tool("jobs_submit", {"command": failing, "working_dir": str(work)})
            ok_id, fail_id = ok.structured_content["job_id"], fail.structured_content["job_id"]
            assert (await finished(c, ok_id))["status"] == "completed"
            assert (await finished(c, fail_id))["status"] == "failed"
            bodies = receiver.wait_for(2)
            # Whoever looks again (tools, another process's service) sends nothing more.
            await c.call_tool("jobs_status", {"job_id": ok_id})
            await c.call_tool("jobs_list", {})
        JobService(settings, StateStore(settings.state_path)).refresh(fail_id)
        assert notify.flush(10)
    assert len(receiver.bodies) == 2 and len(fake.recorder.requests) == 2
    by_job = {body["job_id"]: body for body in bodies}
    completed, failed = by_job[ok_id], by_job[fail_id]
    assert set(completed) == END_KEYS and set(failed) == END_KEYS | {"last_log_line"}
    assert completed["event"] == "job_end" and completed["key"] == ok_id
    assert completed["summary"] == f"job {ok_id} (mlp) completed (exit code 0)"
    assert (completed["status"], completed["exit_code"], completed["name"]) == (
        "completed",
        0,
        "mlp",
    )
    assert completed["message"] == "exited with code 0" and completed["backend"] == "local"
    assert completed["wall_s"] > 0 and completed["url"] is None
    assert failed["summary"] == f"job {fail_id} failed (exit code 3)"
    assert failed["message"] == "exited with code 3"
    # Positive control: the line itself arrived; only the token was hidden.
    assert failed["last_log_line"] == "push to the hub failed with [REDACTED:hf-token]"
    assert PLANTED not in str(receiver.bodies)


PREFS = """
```yaml
metrics:
  val/loss: {goal: minimize, threshold: 0.000001}
rules:
  - name: too_high
    when: val/loss above_threshold
    action: {lower_lr: {factor: 0.5}}
```
"""


async def test_verdict_and_restart_in_slack_format_rate_limited(settings, tmp_path) -> None:
    receiver = WebhookReceiver()
    with run_fake(receiver) as fake:
        settings = _settings(settings, fake.url + "/slack", notify_format="slack")
        settings = settings.model_copy(update={"notify_events": ["verdict_failed", "restart"]})
        prefs = tmp_path / "preferences.md"
        prefs.write_text(PREFS)
        config = _config(tmp_path, "run")
        async with client(make_server(settings, "jobs")) as c:
            job = await c.call_tool(
                "jobs_submit",
                {"script": str(TRAIN), "config_file": str(config)},
            )
            job_id = job.structured_content["job_id"]
            await finished(c, job_id)
            first = await c.call_tool(
                "experiments_check", {"source": job_id, "preferences": str(prefs)}
            )
            again = await c.call_tool(
                "experiments_check", {"source": job_id, "preferences": str(prefs)}
            )
            assert first.structured_content["status"] == again.structured_content["status"]
            assert first.structured_content["status"] == "action_needed"
            restarted = await c.call_tool(
                "experiments_restart",
                {"job_id": job_id, "config_changes": {"optimizer.lr": 0.05},
                 "reason": f"val/loss too high; a token {PLANTED} pasted by mistake"},
            )  # fmt: skip
            new_id = restarted.structured_content["new_job_id"]
            await c.call_tool("jobs_cancel", {"job_id": new_id})
        verdict, restart = receiver.wait_for(2)
        assert notify.flush(10)
    # The second check within notify_min_interval_s was not sent again.
    assert len(receiver.bodies) == 2
    summary = first.structured_content["summary"]
    assert verdict["text"].startswith(f"[mlintern] {summary}\nsource: {job_id}\njob_id: {job_id}")
    assert "fired_rules: too_high" in verdict["text"]
    assert verdict["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": verdict["text"]}}
    ]
    assert f"restart {job_id} as {new_id} with optimizer.lr 0.1 -&gt; 0.05" in restart["text"]
    assert (
        "reason: val/loss too high; a token [REDACTED:hf-token] pasted by mistake"
        in restart["text"]
    )
    assert PLANTED not in str(receiver.bodies)


HANGS = """
import time
for step in range(1, 11):
    print("step", step, flush=True)
    time.sleep(0.05)
time.sleep(60)
"""


async def test_a_stall_is_sent_once_per_interval(settings, tmp_path) -> None:
    receiver = WebhookReceiver()
    script = job_folder(tmp_path / "work") / "hangs.py"
    script.write_text(HANGS)
    with run_fake(receiver) as fake:
        settings = _settings(settings, fake.url + "/hook", stall_floor_s=1.0)
        settings = settings.model_copy(update={"notify_events": ["stalled"]})
        async with client(make_server(settings, "jobs")) as c:
            job_id = (await c.call_tool("jobs_submit", {"script": str(script)})).structured_content[
                "job_id"
            ]
            try:
                deadline = time.monotonic() + 60
                polls = 0
                while time.monotonic() < deadline:
                    status = await c.call_tool("jobs_status", {"job_id": job_id})
                    polls += 1
                    if status.structured_content["health"]["progress"] == "stalled" and polls > 3:
                        break
                    await asyncio.sleep(0.2)
                for _ in range(3):  # still stalled: nothing more within the interval
                    await c.call_tool("jobs_status", {"job_id": job_id})
            finally:
                await c.call_tool("jobs_cancel", {"job_id": job_id})
        (stalled,) = receiver.wait_for(1)
        assert notify.flush(10)
    assert len(receiver.bodies) == 1
    assert stalled["event"] == "stalled" and stalled["summary"] == f"job {job_id} is stalled"
    assert stalled["why"].startswith("alive but silent: no new log line or metric step for ")
    assert stalled["last_log_line"] == "step 10"


def test_a_500_is_retried_and_a_refusal_logged_without_the_url(settings, caplog) -> None:
    receiver = WebhookReceiver()
    store = StateStore(settings.state_path)
    with run_fake(receiver) as fake:
        url = fake.url + "/T000/B000/secretpath"
        settings = _settings(settings, url, notify_format="discord")
        fake.faults.fail("/T000", 500, times=1)
        assert notify.notify(
            settings, store, "approval_waiting", "r-1:c1", "run r-1 waits @everyone"
        )
        (body,) = receiver.wait_for(1)
        assert body == {
            "content": "[mlintern] run r-1 waits @everyone",
            "allowed_mentions": {"parse": []},
        }
        assert len(fake.recorder.requests) == 2  # the 500, then the retry that arrived
        fake.faults.fail("/T000", 500, times=3)
        caplog.set_level(logging.WARNING, logger="server.notify")
        assert notify.notify(settings, store, "approval_waiting", "r-1:c2", "second request")
        assert notify.flush(20)
    assert len(receiver.bodies) == 1 and len(fake.recorder.requests) == 5
    assert "notification approval_waiting for r-1:c2 to webhook #1 refused: HTTP 500" in caplog.text
    assert "secretpath" not in caplog.text and "127.0.0.1" not in caplog.text


async def test_a_dead_receiver_never_holds_up_a_job(settings, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="server.notify")
    url = f"http://127.0.0.1:{free_port()}/hooks/secretpath"  # nobody listens there
    settings = _settings(settings, url)
    async with client(make_server(settings, "jobs")) as c:
        job_id = (await c.call_tool("jobs_submit", {"command": "echo hi"})).structured_content[
            "job_id"
        ]
        # Bounded: the tool answers although every delivery attempt fails behind it.
        done = await asyncio.wait_for(finished(c, job_id), timeout=60)
    assert done["status"] == "completed"
    assert notify.flush(20)
    assert (
        f"notification job_end for {job_id} to webhook #1 failed after 3 tries: ConnectError"
        in caplog.text
    )
    assert "secretpath" not in caplog.text


def test_a_full_queue_drops_with_a_log_line_and_secrets_by_value_are_hidden(
    settings, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="server.notify")
    receiver = WebhookReceiver()
    store = StateStore(settings.state_path)
    plain_secret = "not-shaped-like-a-token-42"  # found by value only (a credential setting)
    with run_fake(receiver) as fake:
        settings = _settings(settings, fake.url + "/hook", notify_queue_max=1)
        settings = settings.model_copy(update={"hf_token": SecretStr(plain_secret)})
        fake.faults.stall("/hook", 2.0, times=1)
        fields = {"detail": f"leaked {plain_secret} and {fake.url}/hook here"}
        sent = [notify.notify(settings, store, "stuck", "j-0", "event 0", fields)]
        deadline = time.monotonic() + 10
        while not fake.recorder.requests:  # the first is being delivered (held by the receiver)
            assert time.monotonic() < deadline, "the first notification was never posted"
            time.sleep(0.01)
        sent += [
            notify.notify(settings, store, "stuck", f"j-{i}", f"event {i}", fields) for i in (1, 2)
        ]
        assert notify.flush(20)
    # The first is being delivered (stalled), the second waits, the third finds the queue full.
    assert sent == [True, True, False]
    assert "notification stuck for j-2 dropped: 1 already waiting" in caplog.text
    # The dropped one was not counted as sent: the next look sends it.
    assert notify.already_sent(store, "stuck", ["j-0", "j-1", "j-2"]) == {"j-0", "j-1"}
    details = [body["detail"] for _p, body in receiver.bodies]
    assert details == ["leaked [REDACTED:SECRET] and [REDACTED:SECRET] here"] * 2


def test_payload_styles_and_off_by_default(settings) -> None:
    event = notify.Event("job_end", "j-1", "job j-1 failed <!channel>", {"status": "failed"}, 0.0)
    assert notify.style_of("https://hooks.slack.com/services/T/B/x", "auto") == "slack"
    assert notify.style_of("https://discord.com/api/webhooks/1/x", "auto") == "discord"
    assert notify.style_of("https://example.org/hook", "auto") == "json"
    assert notify.payload(event, "slack")["text"] == (
        "[mlintern] job j-1 failed &lt;!channel&gt;\nstatus: failed"
    )
    assert notify.payload(event, "json") == {
        "status": "failed",
        "event": "job_end",
        "key": "j-1",
        "summary": "job j-1 failed <!channel>",
        "time": "1970-01-01T00:00:00Z",
    }
    store = StateStore(settings.state_path)
    assert not notify.notify(settings, store, "job_end", "j-1", "nothing configured")
