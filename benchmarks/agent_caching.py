"""What prompt caching saves on input cost, iteration by iteration.

The bundled agent runs a 20-iteration task (19 tool calls, then an answer) with an Anthropic
model (anthropic/claude-sonnet-4-5) against the scripted LLM of the test suite, reached through
litellm's real anthropic provider at /v1/messages, with every toolkit of the bundled server
(the tool list every request carries). The scripted server simulates Anthropic's prompt cache:
the prefix up to a breakpoint seen before is reported as ``cache_read_input_tokens``, a new one
as ``cache_creation_input_tokens`` (tests/fakes/llm_cache.py).

The same task runs twice in this process: with cache breakpoints (``prompt_caching: true``, the
default) and without (``false``). Each iteration's input cost is priced from the usage the
provider reported, with litellm's price table (cache reads at about a tenth, writes a quarter
more); the table prints both figures and their ratio per iteration, then the totals.

Run: python benchmarks/agent_caching.py [--iterations 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from bench_env import prepare

prepare()

from agent.config import load_config  # noqa: E402
from agent.llm import import_litellm  # noqa: E402
from agent.runtime import open_agent  # noqa: E402
from server.settings import Settings  # noqa: E402

MODEL = "anthropic/claude-sonnet-4-5"


async def run_task(iterations: int, caching: bool) -> list[dict[str, Any]]:
    """The usage records of one run: one per model call."""
    from fakes.llm import ScriptedLLM, call, calls, say

    # A different plan each time: identical calls would (rightly) trip the doom-loop guard.
    script = [calls(call("plan_get", {"plan_id": f"p-{n}"})) for n in range(iterations - 1)]
    with ScriptedLLM([*script, say("done")]) as llm, tempfile.TemporaryDirectory() as home:
        config = load_config(
            overrides={
                "model": MODEL,
                "api_base": llm.api_base.removesuffix("/v1"),
                "api_key": "benchmark-key",
                "prompt_caching": caching,
                "bundled": {"toolsets": None},
                "limits": {"max_iterations": iterations + 1},
            }
        )
        async with open_agent(config, settings=Settings(home=Path(home))) as agent:
            result = await agent.run("benchmark: poll the plan, then answer")
            session = agent.session_id
        assert result.reason == "completed", result
        llm.check()
        trace = Path(home) / "sessions" / f"{session}.jsonl"
        records = [json.loads(line) for line in trace.read_text().splitlines()]
    usage = [r for r in records if r["type"] == "usage"]
    assert len(usage) == iterations, len(usage)
    return usage


def input_cost(record: dict[str, Any]) -> float:
    prompt_cost, _ = import_litellm().cost_per_token(
        model=MODEL,
        prompt_tokens=record["prompt_tokens"],
        completion_tokens=0,
        cache_read_input_tokens=record.get("cache_read_tokens", 0),
        cache_creation_input_tokens=record.get("cache_write_tokens", 0),
    )
    return float(prompt_cost)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    cached = asyncio.run(run_task(args.iterations, caching=True))
    plain = asyncio.run(run_task(args.iterations, caching=False))

    print(f"{MODEL}, {args.iterations} iterations, every toolkit's tools on each request")
    print(f"{'iter':>4} {'prompt tok':>10} {'read':>7} {'written':>7} "
          f"{'cached $':>10} {'uncached $':>10} {'ratio':>6}")  # fmt: skip
    for n, (with_cache, without) in enumerate(zip(cached, plain, strict=True), start=1):
        a, b = input_cost(with_cache), input_cost(without)
        print(
            f"{n:>4} {with_cache['prompt_tokens']:>10} {with_cache['cache_read_tokens']:>7} "
            f"{with_cache['cache_write_tokens']:>7} {a:>10.5f} {b:>10.5f} {a / b:>6.2f}"
        )
    total_cached = sum(map(input_cost, cached))
    total_plain = sum(map(input_cost, plain))
    reported = (sum(r["cost_usd"] for r in cached), sum(r["cost_usd"] for r in plain))
    print(
        f"input cost: ${total_cached:.4f} with caching, ${total_plain:.4f} without "
        f"({total_cached / total_plain:.2f}x, {1 - total_cached / total_plain:.0%} saved)"
    )
    print(f"run cost the agent reported (input + output): ${reported[0]:.4f} vs ${reported[1]:.4f}")
    print(
        json.dumps(
            {
                "iterations": args.iterations,
                "input_usd_cached": round(total_cached, 6),
                "input_usd_uncached": round(total_plain, 6),
                "ratio": round(total_cached / total_plain, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
