"""A delegated run waiting for a person is posted to the webhook (server/notify.py) once, with
the tool and its arguments, secrets redacted: through the real server and a scripted model."""

from __future__ import annotations

import pytest
from fakes.llm import ScriptedLLM, call, calls, say
from fakes.loopback import run_fake
from fakes.webhook import WebhookReceiver
from fastmcp import Client
from pydantic import SecretStr

from server import notify
from server.app import build_server
from server.settings import Settings
from tasks.taskkit import ApprovalDesk, use

PLANTED = "ghp_FAKEplantedTOKENabcdefghijklmnopqrstuv"  # a GitHub token's shape


@pytest.mark.slow
async def test_a_run_waiting_for_approval_is_posted_once(
    task_settings: Settings, llm: ScriptedLLM
) -> None:
    submit = call("jobs_submit", {"command": f"echo pushing with {PLANTED}", "name": "push"})
    llm.add(calls(submit), say("The user declined the submission."))
    desk = ApprovalDesk({"approve": False, "feedback": "no"})
    receiver = WebhookReceiver()
    with run_fake(receiver) as fake:
        settings = task_settings.model_copy(
            update={"notify_webhooks": SecretStr(fake.url + "/hook"), "notify_format": "json"}
        )
        async with Client(build_server(settings), elicitation_handler=desk) as c:
            result = await use(c, "run_ml_task", task="Push my results.")
        (body,) = receiver.wait_for(1)
        assert notify.flush(10)
    run_id = result.data["run_id"]
    assert result.data["status"] == "completed" and len(receiver.bodies) == 1
    assert body["event"] == "approval_waiting"
    assert body["key"].startswith(f"{run_id}:")
    assert body["summary"] == f"run {run_id} waits for approval of jobs_submit"
    assert body["tool"] == "jobs_submit" and body["run_id"] == run_id
    assert body["answer_with"] == f"ml_task(run_id={run_id!r}, action='approve')"
    # Positive control: the arguments arrived; only the token was hidden.
    assert '"command": "echo pushing with [REDACTED:github-token]"' in body["arguments"]
    assert PLANTED not in str(receiver.bodies)
