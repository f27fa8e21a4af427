"""What the bundled agent itself costs, apart from the model's own latency.

1. Loop overhead per iteration: the agent loop against a zero-latency in-memory model, each
   iteration one tool call to the bundled server in-process (plan_get). Everything the loop does
   is included: history repair, token accounting, the doom-loop check, approvals, the MCP call,
   the session file. The same run without a session file, and the bare MCP call, are printed
   too, so the loop's share can be read off.
2. The same iteration through litellm and HTTP against the scripted server of the test suite
   (tests/fakes/llm.py): what a real provider call adds on top, minus the network and the model.
3. The size in tokens of the tool list the model receives with the default toolsets (every
   registered toolkit), in total and per toolkit: it is paid on every request.

Run: python benchmarks/agent.py [--iterations 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
# A reproducible config: the shipped defaults, not the user's file.
os.environ["MLINTERN_AGENT_CONFIG"] = str(Path(tempfile.gettempdir()) / "mlintern-bench-none.json")

from agent.config import load_config  # noqa: E402
from agent.llm import ModelReply, ModelWindow, ToolCallRequest  # noqa: E402
from agent.runtime import open_agent  # noqa: E402
from agent.tokens import count_json_tokens  # noqa: E402
from server.settings import Settings  # noqa: E402


class ZeroLatencyModel:
    """Answers instantly: a plan_get call each turn, then a final answer."""

    def __init__(self, turns: int):
        self.model = "bench/zero-latency"
        self.turns = turns
        self.calls = 0

    def window(self) -> ModelWindow:
        return ModelWindow(200_000, True)

    async def complete(
        self, messages: list[dict[str, Any]], tools: Any = None, **_: Any
    ) -> ModelReply:
        self.calls += 1
        if self.calls > self.turns:
            return ModelReply("done", [], 1000, 1, 0.0, True)
        call = ToolCallRequest(f"call_{self.calls}", "plan_get", '{"plan_id": "default"}')
        return ModelReply("", [call], 1000 + 40 * self.calls, 20, 0.0, True)


async def loop_overhead(iterations: int, save_session: bool) -> float:
    """Seconds per iteration of the whole loop with an instant model."""
    config = load_config(
        overrides={"bundled": {"toolsets": ["plan"]}, "limits": {"max_iterations": iterations + 1}}
    )
    with tempfile.TemporaryDirectory() as home:
        async with open_agent(
            config, settings=Settings(home=Path(home)), save_session=save_session
        ) as agent:
            model = ZeroLatencyModel(iterations)
            agent.model = model
            started = time.perf_counter()
            result = await agent.run("benchmark")
            elapsed = time.perf_counter() - started
    assert result.reason == "completed" and model.calls == iterations + 1, result
    return elapsed / (iterations + 1)


async def bare_tool_call(iterations: int) -> float:
    """Seconds per plan_get through the in-process MCP client alone."""
    config = load_config(overrides={"bundled": {"toolsets": ["plan"]}})
    with tempfile.TemporaryDirectory() as home:
        async with open_agent(
            config, settings=Settings(home=Path(home)), save_session=False
        ) as agent:
            await agent.tools.call("plan_get", {"plan_id": "default"})  # warm up
            started = time.perf_counter()
            for _ in range(iterations):
                await agent.tools.call("plan_get", {"plan_id": "default"})
            return (time.perf_counter() - started) / iterations


async def through_litellm(iterations: int) -> float:
    """Seconds per iteration via litellm and HTTP to the scripted loopback server."""
    from fakes.llm import ScriptedLLM, call, calls, say

    script = [calls(call("plan_get", {"plan_id": "default"})) for _ in range(iterations)] + [
        say("done")
    ]
    with ScriptedLLM(script) as llm, tempfile.TemporaryDirectory() as home:
        config = load_config(
            overrides={
                "model": "openai/scripted",
                "api_base": llm.api_base,
                "bundled": {"toolsets": ["plan"]},
                "limits": {"max_iterations": iterations + 2, "context_tokens": 200_000},
            }
        )
        async with open_agent(config, settings=Settings(home=Path(home))) as agent:
            await agent.model.complete([{"role": "user", "content": "warm up litellm"}])
            llm.add(*script)
            started = time.perf_counter()
            result = await agent.run("benchmark")
            elapsed = time.perf_counter() - started
        assert result.reason == "completed", result
    return elapsed / (iterations + 1)


async def tool_list_tokens() -> tuple[int, dict[str, int], int]:
    from agent.llm import import_litellm

    import_litellm()
    config = load_config(overrides={"bundled": {"toolsets": None}})
    with tempfile.TemporaryDirectory() as home:
        async with open_agent(
            config, settings=Settings(home=Path(home)), save_session=False
        ) as agent:
            schemas = agent.tools.schemas()
            specs = list(agent.tools.tools.values())
    # Counted as the context manager counts it: cl100k over the JSON the request carries.
    total = count_json_tokens(schemas)
    per_toolkit: dict[str, int] = defaultdict(int)
    for spec in specs:
        per_toolkit[spec.name.split("_", 1)[0]] += count_json_tokens([spec.schema()])
    return total, dict(per_toolkit), len(specs)


def best_of(runs: int, measure: Any) -> float:
    return min(asyncio.run(measure()) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="Best of N runs")
    args = parser.parse_args()
    n = args.iterations

    full = best_of(args.repeats, lambda: loop_overhead(n, save_session=True))
    no_session = best_of(args.repeats, lambda: loop_overhead(n, save_session=False))
    tool = best_of(args.repeats, lambda: bare_tool_call(n))
    litellm_path = best_of(args.repeats, lambda: through_litellm(max(20, n // 4)))
    total, per_toolkit, count = asyncio.run(tool_list_tokens())

    print(f"agent loop, zero-latency model, {n} iterations (best of {args.repeats}):")
    print(f"  per iteration, with session file     {full * 1000:8.2f} ms")
    print(f"  per iteration, no session file       {no_session * 1000:8.2f} ms")
    print(f"  of which the MCP call (plan_get)     {tool * 1000:8.2f} ms")
    print(
        f"  loop's own share                     {(full - tool) * 1000:8.2f} ms "
        f"({(full - tool) / full:.0%} of an iteration)"
    )
    print(
        f"through litellm + loopback HTTP        {litellm_path * 1000:8.2f} ms per iteration "
        f"({litellm_path / full:.1f}x the in-memory loop)"
    )
    print(f"tool list, default toolsets: {count} tools, {total} tokens per request")
    for name, tokens in sorted(per_toolkit.items(), key=lambda item: -item[1]):
        print(f"  {name:<12} {tokens:6d} tokens")
    print(
        json.dumps(
            {
                "loop_ms": round(full * 1000, 3),
                "loop_no_session_ms": round(no_session * 1000, 3),
                "mcp_call_ms": round(tool * 1000, 3),
                "litellm_ms": round(litellm_path * 1000, 3),
                "tool_list_tokens": total,
                "tools": count,
                "median_tokens_per_toolkit": statistics.median(per_toolkit.values())
                if per_toolkit
                else 0,
            }
        )
    )


if __name__ == "__main__":
    main()
