"""Local OpenAI-compatible servers are asked for their window, not guessed; the README's
local-model lines work against each server's documented endpoints (loopback stand-ins)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import local_servers
from fakes.llm import Reply, ScriptedLLM, say
from fakes.llm_stream import endless
from test_agent_cli import agent_cmd, agent_env, run

from agent.config import Limits
from agent.llm import LiteLLMModel

pytest_plugins = ["agent_testkit"]


def quarter_cap(window: int) -> int:
    return min(Limits().default_output_tokens, window // 4)


@pytest.mark.parametrize(
    ("install", "window", "source"),
    [
        (lambda llm: local_servers.llama_cpp(llm, n_ctx=8192), 8192, "llama.cpp /props"),
        (
            lambda llm: local_servers.llama_cpp(llm, n_ctx=8192, n_ctx_train=32768, props=False),
            32768,
            "llama.cpp /v1/models n_ctx_train",
        ),
        (
            lambda llm: local_servers.vllm(llm, max_model_len=4096),
            4096,
            "vLLM /v1/models max_model_len",
        ),
        (
            lambda llm: local_servers.ollama(llm, context_length=131072, num_ctx=16384),
            16384,
            "Ollama /api/show num_ctx",
        ),
        (
            lambda llm: local_servers.ollama(llm, context_length=131072),
            131072,
            "Ollama /api/show context_length",
        ),
    ],
    ids=["llama.cpp-props", "llama.cpp-models", "vllm", "ollama-num_ctx", "ollama-model_info"],
)
async def test_window_comes_from_the_server_and_caps_the_output(
    llm: ScriptedLLM, install, window: int, source: str
) -> None:
    install(llm)
    llm.add(say("hello from the local model", expect=lambda r: r.get("max_tokens") == quarter_cap(window) or f"max_tokens {r.get('max_tokens')}"))  # fmt: skip
    # The README's line: --model openai/<name> --api-base http://127.0.0.1:PORT/v1
    model = LiteLLMModel(f"openai/{llm.model}", api_base=llm.api_base)
    found = model.window()
    assert (found.max_input_tokens, found.known, found.source) == (window, True, source)
    reply = await model.complete([{"role": "user", "content": "hi"}])
    assert reply.text == "hello from the local model" and reply.usage_reported


def test_without_server_metadata_the_config_then_the_default_is_used(llm: ScriptedLLM) -> None:
    configured = LiteLLMModel("openai/x", Limits(context_tokens=6000), api_base=llm.api_base)
    assert (configured.window().max_input_tokens, configured.window().source) == (
        6000,
        "config limits.context_tokens",
    )
    bare = LiteLLMModel("openai/x", api_base=llm.api_base).window()
    assert (bare.max_input_tokens, bare.known, bare.source) == (32768, False, "default")
    asked = {path for _method, path, _body in llm.metadata_requests}
    assert asked == {"/props", "/v1/models", "/api/show"}


def test_an_explicit_output_cap_wins(llm: ScriptedLLM) -> None:
    local_servers.vllm(llm, max_model_len=4096)
    model = LiteLLMModel("openai/scripted", api_base=llm.api_base, max_output_tokens=300)
    assert model.output_cap() == 300
    assert LiteLLMModel("openai/scripted", api_base=llm.api_base).output_cap() == 1024


def test_cli_against_a_degenerate_llama_cpp_server_ends_stuck(
    llm: ScriptedLLM, tmp_path: Path
) -> None:
    """The scenario that filed the issue: a GGUF without its chat template, headless, --yolo."""
    local_servers.llama_cpp(llm, n_ctx=8192)
    llm.add(*[Reply(live=endless("<|im_end|>", "\n"), label=f"garbage {i}") for i in range(3)])
    env = agent_env(tmp_path, llm)
    args = ["--model", f"openai/{llm.model}", "--api-base", llm.api_base]
    done = run(agent_cmd(*args, "--max-iterations", "5", "--yolo", "make a plan"), env)
    assert done.returncode == 3, done.stderr
    assert "openai/scripted: context window 8192 tokens (from llama.cpp /props)" in done.stderr
    assert "Stopped: the model is stuck — its output degenerated into" in done.stdout + done.stderr
    assert (done.stdout + done.stderr).count("<|im_end|>") < 2000
