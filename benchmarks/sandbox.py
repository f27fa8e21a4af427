"""Cost of one sandboxed command: sandbox_exec through MCP against a bare subprocess.run.

Runs ``python -c 'print(1)'`` both ways, interleaved in one invocation so both see the same
machine load:

1. bare: ``subprocess.run([python, "-c", "print(1)"])`` with the real interpreter (not a
   pyenv shim, which alone costs more than the sandbox);
2. sandboxed: ``sandbox_exec`` called through an in-memory MCP client on the local backend
   (bubblewrap + rlimits when available), which runs the sandbox venv's python.

Prints p50/p95 of each and the p50 ratio. Goal: p50 ratio <= 2.

    python benchmarks/sandbox.py [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMMAND = "python -c 'print(1)'"


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(runs: int) -> tuple[list[float], list[float], str]:
    from fastmcp import Client, FastMCP

    from server.settings import Settings
    from server.toolkit import ToolkitContext
    from toolkits.sandbox import build

    home = Path(tempfile.mkdtemp(prefix="mlintern-bench-"))
    settings = Settings(home=home, _env_file=None)  # type: ignore[call-arg]
    server = FastMCP("bench")
    server.mount(build(ToolkitContext(settings=settings)), namespace="sandbox")
    python = os.path.realpath(sys.executable)  # noqa: ASYNC240 - setup, not measured
    bare: list[float] = []
    sandboxed: list[float] = []
    async with Client(server) as client:
        created = await client.call_tool("sandbox_create", {})
        sandbox_id = created.structured_content["sandbox_id"]  # type: ignore[index]
        isolation = created.structured_content["isolation"]  # type: ignore[index]
        arguments = {"sandbox_id": sandbox_id, "command": COMMAND}
        for _ in range(3):  # warm both paths: page cache, probe, first venv start
            # The baseline is deliberately the plain blocking call a user would make.
            subprocess.run([python, "-c", "print(1)"], capture_output=True, check=True)  # noqa: ASYNC221
            await client.call_tool("sandbox_exec", arguments)
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run([python, "-c", "print(1)"], capture_output=True, check=True)  # noqa: ASYNC221
            bare.append(time.perf_counter() - started)
            assert done.stdout == b"1\n"
            started = time.perf_counter()
            result = await client.call_tool("sandbox_exec", arguments)
            sandboxed.append(time.perf_counter() - started)
            assert result.structured_content["stdout"]["text"] == "1\n"  # type: ignore[index]
        await client.call_tool("sandbox_destroy", {"sandbox_id": sandbox_id})
    return bare, sandboxed, isolation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    bare, sandboxed, isolation = asyncio.run(measure(args.runs))
    ms = 1000
    print(f"{args.runs} runs of {COMMAND!r}; sandbox isolation: {isolation}")
    for label, samples in (("bare subprocess.run", bare), ("sandbox_exec via MCP", sandboxed)):
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        print(f"  {label:<22} p50 {p50 * ms:7.1f} ms   p95 {p95 * ms:7.1f} ms")
    ratio = statistics.median(sandboxed) / statistics.median(bare)
    verdict = "meets" if ratio <= 2 else "MISSES"
    print(f"  p50 ratio sandbox/bare: {ratio:.2f} ({verdict} the goal of <= 2.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
