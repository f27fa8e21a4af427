"""Reasoning effort (issue 18, second part): passed as ``reasoning_effort`` where the model takes
it; where the provider refuses it, dropped for that model, the same request sent again once
without it, the user told once, and the run completes."""

from __future__ import annotations

import pytest
from agent_helpers import build_lab, running_agent
from fakes.llm import Reply, ScriptedLLM, call, calls, say

from agent.cli import build_config, parse_args
from agent.interactive import set_effort
from server.settings import Settings

pytest_plugins = ["agent_testkit"]

OPENAI_REFUSAL = "Unsupported parameter: 'reasoning_effort' is not supported with this model."
ANTHROPIC_REFUSAL = "thinking: Extra inputs are not permitted"


def sends_effort(level: str | None):
    def check(body: dict) -> bool | str:
        # litellm sends OpenAI-style servers reasoning_effort, Anthropic a thinking budget.
        sent = body.get("reasoning_effort") or ("thinking" if "thinking" in body else None)
        return True if sent == level else f"effort sent: {sent!r}, expected {level!r}"

    return check


def refusal(message: str) -> Reply:
    return Reply(
        status=400,
        error_message=message,
        error_type="invalid_request_error",
        error_code="unsupported_parameter",
        label="refuses reasoning_effort",
    )


async def test_effort_is_sent_where_the_model_takes_it(
    llm: ScriptedLLM, settings: Settings
) -> None:
    llm.add(say("thought hard", expect=sends_effort("high")))
    async with running_agent(llm, settings, config={"reasoning_effort": "high"}) as (agent, ev):
        result = await agent.run("think")
    assert result.reason == "completed" and result.final_text == "thought hard"
    assert llm.requests[0].body["reasoning_effort"] == "high"
    assert ev.of("notice") == [] and ev.of("error") == []


@pytest.mark.parametrize(
    ("api", "message", "marker"),
    [("openai", OPENAI_REFUSAL, "high"), ("anthropic", ANTHROPIC_REFUSAL, "thinking")],
)
async def test_a_refused_effort_is_dropped_for_that_model_once_and_the_run_completes(
    llm: ScriptedLLM, settings: Settings, lab_state, api: str, message: str, marker: str
) -> None:
    llm.add(
        refusal(message),
        calls(call("lab__status", {"job_id": "lab-job-1"}), expect=sends_effort(None)),
        say("done without effort", expect=sends_effort(None)),
        say("the other model still thinks", expect=sends_effort(marker)),
    )
    config: dict = {"reasoning_effort": "high"}
    if api == "anthropic":
        base = llm.api_base.removesuffix("/v1")
        config |= {"model": "anthropic/claude-sonnet-4-5", "api_base": base, "api_key": "test-key"}
    extra = {"lab": build_lab(lab_state)}
    async with running_agent(llm, settings, extra=extra, config=config) as (agent, events):
        model = agent.model.model
        result = await agent.run("check the job")
        assert result.reason == "completed" and result.final_text == "done without effort"
        # Another model gets its own chance: the refusal belongs to the one that refused.
        agent.model.switch(model + "-other")  # type: ignore[attr-defined]
        again = await agent.run("and now?")
    assert again.reason == "completed"
    assert [r.api for r in llm.requests] == [api] * 4
    refused, retried = llm.requests[0], llm.requests[1]
    assert sends_effort(marker)(refused.body) is True
    assert retried.body["messages"] == refused.body["messages"]  # the same request, healed
    [notice] = events.of("notice")
    assert model in notice.text and "reasoning effort" in notice.text
    assert events.of("retrying") == [] and events.of("error") == []
    assert "refused it" in set_effort(agent, "") and model in set_effort(agent, "")


async def test_other_bad_requests_still_fail_at_once(llm: ScriptedLLM, settings: Settings) -> None:
    # A 400 that is not about the effort is not healed by dropping it (positive control:
    # the same refusal without an effort sent is not healed either).
    llm.add(refusal("Invalid 'messages[1].content': string too long."), refusal(OPENAI_REFUSAL))
    async with running_agent(llm, settings, config={"reasoning_effort": "low"}) as (agent, ev):
        first = await agent.run("hi")
    async with running_agent(llm, settings) as (agent, ev2):
        second = await agent.run("hi")
    assert first.reason == second.reason == "error" and len(llm.requests) == 2
    assert "string too long" in first.final_text and "reasoning_effort" in second.final_text
    assert ev.of("notice") == ev2.of("notice") == []


async def test_effort_command_sets_and_clears_it(llm: ScriptedLLM, settings: Settings) -> None:
    llm.add(say("one", expect=sends_effort("medium")), say("two", expect=sends_effort(None)))
    async with running_agent(llm, settings) as (agent, _events):
        assert set_effort(agent, "") == "reasoning effort: off (the provider default)"
        assert set_effort(agent, "medium") == "reasoning effort: medium"
        await agent.run("one")
        assert "must be one of low, medium, high" in set_effort(agent, "extreme")
        assert set_effort(agent, "off").startswith("reasoning effort: off")
        await agent.run("two")


def test_effort_flag_reaches_the_config(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_config(parse_args(["--effort", "low", "task"])).reasoning_effort == "low"
    assert build_config(parse_args(["task"])).reasoning_effort is None
    with pytest.raises(SystemExit) as exc:
        parse_args(["--effort", "extreme", "task"])
    assert exc.value.code == 2


async def test_claude_gets_its_thinking_back_with_the_tool_calls_it_led_to(
    llm: ScriptedLLM, settings: Settings, lab_state
) -> None:
    from fakes.llm_anthropic import signature

    thought = "The job id is known; its status comes first."
    turn = calls(call("lab__status", {"job_id": "lab-job-1"}), expect=sends_effort("thinking"))
    turn.thinking = thought
    llm.add(turn, say("done", expect=sends_effort("thinking")), say("plain", expect=sends_effort("medium")))  # fmt: skip
    base = llm.api_base.removesuffix("/v1")
    config = {"model": "anthropic/claude-sonnet-4-5", "api_base": base, "api_key": "test-key"}
    config |= {"reasoning_effort": "medium"}
    extra = {"lab": build_lab(lab_state)}
    async with running_agent(llm, settings, extra=extra, config=config) as (agent, _events):
        assert (await agent.run("check the job")).final_text == "done"
        agent.model.switch("openai/scripted")  # type: ignore[attr-defined]
        agent.model.api_base = llm.api_base  # type: ignore[attr-defined]
        assert (await agent.run("and?")).final_text == "plain"
    block = {"type": "thinking", "thinking": thought, "signature": signature(thought)}
    assistant = llm.requests[1].body["messages"][1]
    assert assistant["role"] == "assistant" and assistant["content"][0] == block
    assert assistant["content"][1]["type"] == "tool_use"  # the call the thinking led to
    # Another provider is not sent Anthropic's blocks (OpenAI refuses unknown keys).
    assert b"thinking" not in llm.requests[2].raw


def test_capped_calls_such_as_the_compaction_summary_think_at_the_default() -> None:
    from agent.effort import EffortSetting
    from agent.llm import LiteLLMModel

    model = LiteLLMModel("anthropic/claude-sonnet-4-5", effort=EffortSetting("high"))
    assert model._params(stream=True, max_tokens=None)["reasoning_effort"] == "high"
    assert "reasoning_effort" not in model._params(stream=False, max_tokens=1200)
