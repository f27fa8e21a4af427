"""LLM calls through litellm against the scripted server: streaming, retries, errors, overflow."""

from __future__ import annotations

from agent_helpers import running_agent
from fakes.llm import ScriptedLLM, call, calls, fail, overflow, say
from fastmcp import FastMCP

from agent.config import Limits
from agent.llm import LiteLLMModel
from server.settings import Settings

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]


def tool_messages(request: dict) -> list[str]:
    return [str(m.get("content")) for m in request["messages"] if m.get("role") == "tool"]


async def test_streamed_answer_arrives_in_pieces_with_usage(
    llm: ScriptedLLM, settings: Settings
) -> None:
    llm.add(say("Hello from the scripted model."))
    async with running_agent(llm, settings) as (agent, events):
        result = await agent.run("hi")
    assert result.reason == "completed" and result.final_text == "Hello from the scripted model."
    body = llm.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    deltas = [e.text for e in events.of("assistant_delta")]
    assert len(deltas) > 1 and "".join(deltas) == "Hello from the scripted model."
    # Token accounting comes from the usage chunk the provider streamed.
    assert agent.context._anchor_tokens is not None and agent.context._anchor_tokens > 100


async def test_no_stream_sends_one_plain_request(llm: ScriptedLLM, settings: Settings) -> None:
    llm.add(say("whole answer"))
    async with running_agent(llm, settings, config={"stream": False}) as (agent, events):
        await agent.run("hi")
    assert not llm.requests[0].body.get("stream")
    assert [e.text for e in events.of("assistant")] == ["whole answer"]


async def test_rate_limit_waits_what_retry_after_says_then_succeeds(
    llm: ScriptedLLM, settings: Settings
) -> None:
    llm.add(fail(429, "slow down", retry_after=1), say("made it"))
    async with running_agent(llm, settings) as (agent, events):
        result = await agent.run("hi")
    assert result.reason == "completed" and result.final_text == "made it"
    [retry] = events.of("retrying")
    assert retry.delay_s == 1.0 and "rate limited" in retry.reason and "429" in retry.reason
    waited = llm.requests[1].at - llm.requests[0].at
    assert waited >= 0.95, f"retried after {waited:.2f}s, Retry-After said 1s"


async def test_server_errors_are_retried_then_reported_clearly(
    llm: ScriptedLLM, settings: Settings
) -> None:
    llm.add(fail(500), fail(503), fail(500))
    config = {"limits": {"llm_attempts": 3, "transient_backoff_s": [0.01, 0.02]}}
    async with running_agent(llm, settings, config=config) as (agent, events):
        result = await agent.run("hi")
    assert result.reason == "error"
    assert len(llm.requests) == 3  # our three attempts and nothing hidden from litellm or openai
    assert len(events.of("retrying")) == 2
    [error] = events.of("error")
    assert error.actionable
    assert (
        "kept failing" in error.message
        and "HTTP 500" in error.message
        and "3 attempts" in error.message
    )
    assert events.of("done")[0].reason == "error"


async def test_bad_credentials_fail_at_once_with_what_to_do(
    llm: ScriptedLLM, settings: Settings
) -> None:
    llm.add(fail(401, "Incorrect API key provided"))
    async with running_agent(llm, settings) as (agent, events):
        result = await agent.run("hi")
    assert result.reason == "error" and len(llm.requests) == 1
    assert "rejected the credentials" in result.final_text and "API_KEY" in result.final_text
    assert not events.of("retrying")


async def test_unknown_model_is_not_retried(llm: ScriptedLLM, settings: Settings) -> None:
    llm.add(fail(404, "The model `nope` does not exist"))
    async with running_agent(llm, settings) as (agent, _):
        result = await agent.run("hi")
    assert result.reason == "error" and len(llm.requests) == 1
    assert "does not know the model" in result.final_text


async def test_malformed_tool_arguments_reach_the_model_as_an_error(
    llm: ScriptedLLM, settings: Settings
) -> None:
    def told_about_json(request: dict) -> bool | str:
        results = tool_messages(request)
        return (
            len(results) == 1 and "not valid JSON" in results[0] and "plan_get" in results[0]
        ) or repr(results)

    llm.add(
        calls(call("plan_get", '{"plan_id": "default"')),  # the closing brace never came
        calls(call("plan_get", {"plan_id": "default"}), expect=told_about_json),
        say("The plan is empty."),
    )
    async with running_agent(llm, settings) as (agent, events):
        result = await agent.run("show the plan")
    assert result.reason == "completed"
    outputs = events.of("tool_output")
    assert outputs[0].is_error and "not valid JSON" in outputs[0].output
    assert not outputs[1].is_error and "Plan 'default'" in outputs[1].output


async def test_unknown_tool_names_get_a_helpful_error(llm: ScriptedLLM, settings: Settings) -> None:
    def suggested(request: dict) -> bool | str:
        return "Did you mean plan_get" in tool_messages(request)[0] or repr(tool_messages(request))

    llm.add(calls(call("plan_gte", {})), say("ok", expect=suggested))
    async with running_agent(llm, settings) as (agent, _):
        assert (await agent.run("x")).reason == "completed"


def summariser_route(llm: ScriptedLLM, summary: str = "Polled the job several times.") -> None:
    import configs

    marker = configs.read_text("prompts/compaction.md").splitlines()[0]
    llm.route(
        "summariser",
        lambda request: str(request["messages"][0].get("content", "")).startswith(marker),
        lambda request: say(summary),
    )


async def test_context_overflow_compacts_and_retries_once(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP
) -> None:
    summariser_route(llm)

    def compacted(request: dict) -> bool | str:
        notes = [m for m in request["messages"] if "Compacted context" in str(m.get("content"))]
        return (
            len(notes) == 1 and "lab-job-1" in notes[0]["content"]
        ) or "no compacted note with the job id"

    llm.add(calls(call("lab__submit", {"name": "run"})))
    llm.add(*[calls(call("lab__status", {"job_id": "lab-job-1"})) for _ in range(5)])
    llm.add(overflow(), say("Done: lab-job-1 finished.", expect=compacted))
    config = {"limits": {"keep_recent_turns": 2}, "approvals": {"mode": "yolo"}}
    async with running_agent(llm, settings, extra={"lab": lab}, config=config) as (agent, events):
        result = await agent.run("run and watch a job")
    assert result.reason == "completed"
    [event] = events.of("compacted")
    assert event.reason == "overflow" and event.messages_after < event.messages_before
    # The retried request is the same conversation, shorter: system, task, note, recent turns.
    last = llm.requests[-1].messages
    assert last[0]["role"] == "system" and last[1]["content"] == "run and watch a job"


async def test_overflow_that_compaction_cannot_fix_is_a_clear_error(
    llm: ScriptedLLM, settings: Settings
) -> None:
    llm.add(overflow())
    async with running_agent(llm, settings) as (agent, _):
        result = await agent.run("a task far too long for this model")
    assert result.reason == "error"
    assert "does not fit" in result.final_text and "larger window" in result.final_text


async def test_unknown_local_model_gets_a_usable_window(llm: ScriptedLLM) -> None:
    model = LiteLLMModel("hosted_vllm/mystery-7b", Limits(), api_base=llm.api_base)
    window = model.window()
    assert window.known is False and window.max_input_tokens == Limits().fallback_context_tokens
    llm.add(say("served by a local server"))
    reply = await model.complete([{"role": "user", "content": "hi"}])
    assert reply.text == "served by a local server" and reply.cost_usd == 0.0
    request = llm.requests[0]
    assert request.body["model"] == "mystery-7b"  # the prefix chose the route, not the name
    assert request.headers["authorization"] == "Bearer sk-no-key-needed"  # a local server


def test_configured_window_overrides_the_map() -> None:
    assert (
        LiteLLMModel("hosted_vllm/x", Limits(context_tokens=8000)).window().max_input_tokens == 8000
    )
