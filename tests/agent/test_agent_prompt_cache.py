"""Prompt caching (issue 18, first part), through litellm's real providers against the scripted
LLM: Anthropic requests (``POST /v1/messages``) carry the two breakpoints in the bytes sent,
nothing else does, the history never carries them, and the cost counts the cached part of the
prompt at the price table's cache prices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import build_lab, running_agent
from fakes.llm import ScriptedLLM, call, calls, say

from agent.llm import import_litellm
from agent.prompt_cache import wants_cache_marks
from server.settings import Settings

pytest_plugins = ["agent_testkit"]

CLAUDE = "anthropic/claude-sonnet-4-5"
EPHEMERAL = {"type": "ephemeral"}


def claude_config(llm: ScriptedLLM, **extra: object) -> dict:
    # litellm's anthropic provider posts to <api_base>/v1/messages.
    base = llm.api_base.removesuffix("/v1")
    return {"model": CLAUDE, "api_base": base, "api_key": "test-anthropic-key", **extra}


def usage_records(home: Path) -> list[dict]:
    [trace] = (home / "sessions").glob("*.jsonl")
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    return [r for r in records if r["type"] == "usage"]


def price(model: str, key: str) -> float:
    return float(import_litellm().get_model_info(model)[key])


def expected_cost(model: str, record: dict) -> float:
    uncached = record["prompt_tokens"] - record["cache_read_tokens"] - record["cache_write_tokens"]
    creation = price(model, "cache_creation_input_token_cost") if record["cache_write_tokens"] else 0  # fmt: skip
    return (
        uncached * price(model, "input_cost_per_token")
        + record["cache_read_tokens"] * price(model, "cache_read_input_token_cost")
        + record["cache_write_tokens"] * creation
        + record["completion_tokens"] * price(model, "output_cost_per_token")
    )


async def test_anthropic_requests_carry_breakpoints_and_cost_counts_cache_reads(
    llm: ScriptedLLM, settings: Settings, lab_state
) -> None:
    llm.add(calls(call("lab__status", {"job_id": "lab-job-1"})), say("done"))
    config = claude_config(llm)
    extra = {"lab": build_lab(lab_state)}
    async with running_agent(llm, settings, extra=extra, config=config) as (agent, _events):
        result = await agent.run("check the job")
        history = list(agent.context.messages)
    assert result.reason == "completed" and len(llm.requests) == 2
    for request in llm.requests:
        assert request.api == "anthropic"
        body = json.loads(request.raw)  # the bytes litellm sent, parsed here
        assert body["system"][-1]["cache_control"] == EPHEMERAL
        assert body["tools"][-1]["cache_control"] == EPHEMERAL
        assert all("cache_control" not in tool for tool in body["tools"][:-1])
        assert request.raw.count(b'"cache_control"') == 2  # exactly the two breakpoints
    # Breakpoints only pay when what they close is the same bytes every time.
    assert len({r.raw_prefix for r in llm.requests}) == 1
    # The marks live in the request only: not in the history, not in the session file.
    assert isinstance(history[0]["content"], str)
    [trace] = (settings.home / "sessions").glob("*.jsonl")
    assert "cache_control" not in trace.read_text()

    first, second = usage_records(settings.home)
    assert first["cache_write_tokens"] > 0 and first["cache_read_tokens"] == 0
    assert second["cache_read_tokens"] == first["cache_write_tokens"] > 0
    for record in (first, second):
        assert record["cost_usd"] == pytest.approx(expected_cost(CLAUDE, record), rel=1e-9)
    uncached_price = import_litellm().cost_per_token(
        model=CLAUDE,
        prompt_tokens=second["prompt_tokens"],
        completion_tokens=second["completion_tokens"],
    )
    assert second["cost_usd"] < 0.5 * sum(uncached_price)  # a tenth for the cached part
    assert result.cost_usd == pytest.approx(first["cost_usd"] + second["cost_usd"])


async def test_caching_switched_off_sends_no_breakpoint(
    llm: ScriptedLLM, settings: Settings, lab_state
) -> None:
    llm.add(calls(call("lab__status", {"job_id": "lab-job-1"})), say("done"))
    config = claude_config(llm, prompt_caching=False)
    extra = {"lab": build_lab(lab_state)}
    async with running_agent(llm, settings, extra=extra, config=config) as (agent, _events):
        await agent.run("check the job")
    assert [r.api for r in llm.requests] == ["anthropic", "anthropic"]
    assert all(b"cache_control" not in r.raw for r in llm.requests)
    assert all(r["cache_read_tokens"] == 0 for r in usage_records(settings.home))


async def test_claude_through_openrouter_keeps_the_marks_other_models_get_none(
    llm: ScriptedLLM, settings: Settings, lab_state
) -> None:
    llm.add(say("routed"), say("plain"))
    extra = {"lab": build_lab(lab_state)}
    routed = {"model": "openrouter/anthropic/claude-sonnet-4.5", "api_key": "test-router-key"}
    async with running_agent(llm, settings, extra=extra, config=routed) as (agent, _events):
        await agent.run("hi")
    async with running_agent(llm, settings, extra=extra) as (agent, _events):  # openai/scripted
        await agent.run("hi")
    marked, plain = llm.requests
    assert marked.api == plain.api == "openai"
    body = json.loads(marked.raw)
    assert body["messages"][0]["content"][-1]["cache_control"] == EPHEMERAL
    assert body["tools"][-1]["cache_control"] == EPHEMERAL
    assert b"cache_control" not in plain.raw


@pytest.fixture
def caching_llm() -> Iterator[ScriptedLLM]:
    """A scripted server that caches a repeated prefix by itself, as OpenAI does."""
    with ScriptedLLM(auto_cache=True) as server:
        yield server
    server.check()


async def test_automatic_cache_hits_are_billed_at_the_cached_price(
    caching_llm: ScriptedLLM, settings: Settings, lab_state
) -> None:
    model = "openai/gpt-4o"  # in litellm's price table, with a cache-read price
    caching_llm.add(calls(call("lab__status", {"job_id": "lab-job-1"})), say("done"))
    config = {"model": model, "api_base": caching_llm.api_base}
    extra = {"lab": build_lab(lab_state)}
    async with running_agent(caching_llm, settings, extra=extra, config=config) as (agent, _e):
        await agent.run("check the job")
    assert all(b"cache_control" not in r.raw for r in caching_llm.requests)
    first, second = usage_records(settings.home)
    assert first["cache_read_tokens"] == 0 and second["cache_read_tokens"] > 100
    assert second["cost_usd"] == pytest.approx(expected_cost(model, second), rel=1e-9)
    full = sum(
        import_litellm().cost_per_token(
            model=model,
            prompt_tokens=second["prompt_tokens"],
            completion_tokens=second["completion_tokens"],
        )
    )
    assert second["cost_usd"] < full


@pytest.mark.parametrize(
    ("model", "api_base", "marked"),
    [
        ("anthropic/claude-sonnet-4-5", None, True),
        ("claude-3-5-haiku-20241022", None, True),
        ("openrouter/anthropic/claude-sonnet-4.5", None, True),
        ("huggingface/together/claude-like-model", None, True),
        ("openai/anthropic/claude-sonnet-4.5", "https://router.huggingface.co/v1", True),
        ("openai/anthropic/claude-sonnet-4.5", "http://127.0.0.1:8000/v1", False),
        ("openrouter/openai/gpt-4o", None, False),
        ("openai/gpt-4o", None, False),
        ("hosted_vllm/Qwen/Qwen2.5-7B-Instruct", "http://127.0.0.1:8000/v1", False),
    ],
)
def test_which_models_get_breakpoints(model: str, api_base: str | None, marked: bool) -> None:
    assert wants_cache_marks(model, api_base) is marked
