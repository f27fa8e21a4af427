"""Sharing traces privately (issue 18, third part): a real session, converted to the Claude Code
transcript layout, redacted again and uploaded by huggingface_hub to the loopback Hub fake.

Each uploaded line is checked against a schema written from the documented format
(claude_code_trace.schema.json); a credential planted in the session file (as an older version,
or a secret set only later, would leave it) never reaches the upload, and the redactor is shown
to change it so the check cannot pass vacuously."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from agent_helpers import build_lab, running_agent
from fakes.hub import FakeHub
from fakes.llm import ScriptedLLM, call, calls, say

from agent.cli import main as cli_main
from agent.config import load_config
from agent.sessions import SessionStore
from agent.share import ShareRequest, share_at_session_end, share_session
from server.errors import UserError
from server.redact import redact
from server.settings import Settings

pytest_plugins = ["agent_testkit"]

TOKEN = "hub-write-token-of-alice-0123456789"
PLANTED_SHAPE = "hf_" + "Zq9Xw" * 7  # a Hugging Face token by its shape
PLANTED_VALUE = "planted-lab-secret-7f3a9c1e5d"  # a secret by value, once LAB_API_KEY holds it
SCHEMA = json.loads((Path(__file__).parent / "claude_code_trace.schema.json").read_text())


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    fake = FakeHub(tokens={TOKEN: ("alice", True)})
    with fake.running():
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no stored login either
        yield fake


@pytest.fixture
async def session_id(llm: ScriptedLLM, settings: Settings, lab_state) -> str:
    """A finished session (a tool call and an answer), with two credentials planted in it."""
    llm.add(calls(call("lab__status", {"job_id": "lab-job-1"}), text="Looking."), say("done"))
    async with running_agent(llm, settings, extra={"lab": build_lab(lab_state)}) as (agent, _e):
        await agent.run("check the job")
        sid = agent.session_id
    assert sid is not None
    planted = {"role": "user", "content": f"keys: {PLANTED_SHAPE} and {PLANTED_VALUE}"}
    with SessionStore(settings.home).path_of(sid).open("a") as trace:
        trace.write(json.dumps({"at": time.time(), "type": "message", "message": planted}) + "\n")
    return sid


def dataset_file(hub: FakeHub, repo_id: str, sid: str) -> bytes:
    return hub.repos[("dataset", repo_id)].refs["main"][f"sessions/{sid}.jsonl"]


async def test_share_uploads_a_private_redacted_trace_the_viewer_reads(
    hub: FakeHub, session_id: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_API_KEY", PLANTED_VALUE)  # known as a secret only now
    local = SessionStore(settings.home).path_of(session_id).read_text()
    assert PLANTED_SHAPE in local and PLANTED_VALUE in local  # there to leak...
    assert PLANTED_SHAPE not in redact(PLANTED_SHAPE)  # ...and the redactor knows both
    assert PLANTED_VALUE not in redact(PLANTED_VALUE)

    store = SessionStore(settings.home)
    result = share_session(store, ShareRequest(session_id), settings=Settings())
    assert result.repo_id == "alice/mlintern-sessions" and result.private
    repo = hub.repos[("dataset", "alice/mlintern-sessions")]
    assert repo.private is True
    uploaded = dataset_file(hub, "alice/mlintern-sessions", session_id)
    assert PLANTED_SHAPE.encode() not in uploaded and PLANTED_VALUE.encode() not in uploaded
    assert TOKEN.encode() not in uploaded and b"[REDACTED" in uploaded
    assert "private dataset alice/mlintern-sessions" in result.describe()

    lines = [json.loads(line) for line in uploaded.decode().splitlines()]
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for line in lines:
        validator.validate(line)
    assert result.lines == len(lines) == 5
    assert [line["type"] for line in lines] == ["user", "assistant", "user", "assistant", "user"]
    assert [line["parentUuid"] for line in lines] == [None] + [line["uuid"] for line in lines[:-1]]
    assert len({line["uuid"] for line in lines}) == 5
    assert len({line["sessionId"] for line in lines}) == 1
    task, turn, result_line, answer, _planted = (line["message"] for line in lines)
    assert task == {"role": "user", "content": "check the job"}
    text, use = turn["content"]
    assert text == {"type": "text", "text": "Looking."}
    assert use["name"] == "lab__status" and use["input"] == {"job_id": "lab-job-1"}
    [tool_result] = result_line["content"]
    assert tool_result["tool_use_id"] == use["id"] and "running" in tool_result["content"]
    assert answer["content"] == [{"type": "text", "text": "done"}]
    assert answer["stop_reason"] == "end_turn" and answer["usage"]["input_tokens"] > 0
    # Nothing else went to the Hub than its own API, with the token.
    assert {r.headers.get("authorization") for r in hub.recorder.requests} == {f"Bearer {TOKEN}"}


async def test_without_a_token_sharing_says_how_to_log_in(
    hub: FakeHub, session_id: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN")
    store = SessionStore(settings.home)
    with pytest.raises(UserError) as caught:
        share_session(store, ShareRequest(session_id), settings=Settings())
    assert "no token is set" in str(caught.value) and "hf auth login" in str(caught.value)
    assert f"{hub.url}/settings/tokens" in str(caught.value)
    assert hub.recorder.requests == []


async def test_public_only_with_an_explicit_repo_and_flag(
    hub: FakeHub, session_id: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SessionStore(settings.home)
    with pytest.raises(UserError, match="named explicitly"):
        share_session(store, ShareRequest(session_id, public=True), settings=Settings())
    assert cli_main(["share", session_id, "--public"]) == 2
    assert "--public needs --repo" in capsys.readouterr().err
    assert hub.recorder.requests == []  # refused before reaching the Hub

    assert cli_main(["share", session_id, "--repo", "alice/open-traces", "--public"]) == 0
    assert "PUBLIC dataset alice/open-traces" in capsys.readouterr().out
    assert hub.repos[("dataset", "alice/open-traces")].private is False
    assert dataset_file(hub, "alice/open-traces", session_id)


async def test_an_existing_public_dataset_is_refused_for_a_private_share(
    hub: FakeHub, session_id: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = hub.add_repo("alice/mlintern-sessions", "dataset", {"README.md": "hi"})
    assert cli_main(["share", session_id]) == 2
    assert "is public, so the session was not uploaded" in capsys.readouterr().err
    assert existing.commits == 1 and list(existing.refs["main"]) == ["README.md"]


async def test_config_switch_shares_at_session_end_and_never_publicly(
    hub: FakeHub, session_id: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # A config cannot ask for a public share: an unknown "public" key is ignored.
    share = {"at_session_end": True, "repo": "alice/team-traces", "public": True}
    config = load_config(overrides={"share": share})
    share_at_session_end(config, session_id, settings.home)
    assert "private dataset alice/team-traces" in capsys.readouterr().err
    assert hub.repos[("dataset", "alice/team-traces")].private is True
    assert dataset_file(hub, "alice/team-traces", session_id)
    # Switched off (the default), nothing is uploaded.
    hub.recorder.clear()
    share_at_session_end(load_config(), session_id, settings.home)
    assert hub.recorder.requests == []


def test_headless_run_shares_its_session_when_the_config_says_so(
    hub: FakeHub, llm: ScriptedLLM, tmp_path: Path
) -> None:
    from test_agent_cli import agent_cmd, agent_env, run

    llm.add(say("all done"))
    env = agent_env(tmp_path, llm, share={"at_session_end": True})
    env.update(HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf-home"))
    done = run(agent_cmd("say hi"), env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "all done"
    assert "to the private dataset alice/mlintern-sessions" in done.stderr
    [(path, data)] = [
        (p, d)
        for p, d in hub.repos[("dataset", "alice/mlintern-sessions")].refs["main"].items()
        if p.startswith("sessions/")
    ]
    first = json.loads(data.decode().splitlines()[0])
    assert first["message"] == {"role": "user", "content": "say hi"}
    assert path.endswith(".jsonl") and path[len("sessions/") : -len(".jsonl")] in done.stderr


async def test_share_command_uploads_the_running_session(
    hub: FakeHub, llm: ScriptedLLM, settings: Settings
) -> None:
    import io

    from rich.console import Console

    from agent.interactive import share_from_repl

    out = io.StringIO()
    console = Console(file=out, width=300)
    llm.add(say("hello"))
    key = "config-only-model-key-5b8e2d"  # a secret only the agent's config knows
    async with running_agent(llm, settings, config={"api_key": key}) as (agent, _events):
        await agent.run("hi")
        store = SessionStore(settings.home)
        leak = {"at": time.time(), "type": "message", "message": {"role": "user", "content": key}}
        with store.path_of(str(agent.session_id)).open("a") as trace:
            trace.write(json.dumps(leak) + "\n")
        assert redact(key) == key  # no shape or variable gives it away: only the config does
        await share_from_repl(agent, store, "--public", console)  # public needs a named repo
        await share_from_repl(agent, store, "", console)
        sid = agent.session_id
    text = out.getvalue()
    assert "share failed" in text and "named explicitly" in text
    assert f"Shared session {sid}" in text and "private dataset alice/mlintern-sessions" in text
    uploaded = dataset_file(hub, "alice/mlintern-sessions", str(sid))
    assert b'"content": "hi"' in uploaded and key.encode() not in uploaded
    assert key in store.path_of(str(sid)).read_text()  # it was there to leak
