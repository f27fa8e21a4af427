"""Start-up cost: process start -> first tools/list answer over stdio.

mlintern-server (every toolkit mounted) against a minimal fastmcp server with one tool, run
alternately in one invocation so both see the same machine load. Prints the medians and their
ratio. Goal: ratio <= 1.25.

    python benchmarks/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MINIMAL_SERVER = """
from fastmcp import FastMCP
mcp = FastMCP("minimal")
@mcp.tool
def echo(text: str) -> str:
    '''Echo the text back.'''
    return text
mcp.run(transport="stdio", show_banner=False)
"""

REQUESTS = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]


def time_to_tools_list(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdin and proc.stdout
    tools = 0
    try:
        for request in REQUESTS:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            if request.get("id") == 1:
                proc.stdout.readline()
        answer = json.loads(proc.stdout.readline())
        elapsed = time.perf_counter() - start
        tools = len(answer["result"]["tools"])
    finally:
        proc.kill()
        proc.wait()
    return elapsed, tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mlintern-bench-")
    env = {
        **os.environ,
        "MLINTERN_HOME": home,
        "FASTMCP_SHOW_SERVER_BANNER": "false",
        "FASTMCP_CHECK_FOR_UPDATES": "off",
    }
    ours = [
        shutil.which("mlintern-server") or sys.executable,
        *([] if shutil.which("mlintern-server") else ["-m", "server.cli"]),
    ]
    minimal = [sys.executable, "-c", MINIMAL_SERVER]
    time_to_tools_list(ours, env)  # warm the page cache for both before measuring
    time_to_tools_list(minimal, env)
    ours_times, minimal_times, tool_count = [], [], 0
    for _ in range(args.runs):
        elapsed, tool_count = time_to_tools_list(ours, env)
        ours_times.append(elapsed)
        minimal_times.append(time_to_tools_list(minimal, env)[0])
    ours_median = statistics.median(ours_times)
    minimal_median = statistics.median(minimal_times)
    print(f"runs: {args.runs} each, alternating")
    print(f"mlintern-server ({tool_count} tools): median {ours_median * 1000:.0f} ms")
    print(f"minimal fastmcp server (1 tool):  median {minimal_median * 1000:.0f} ms")
    ratio = ours_median / minimal_median
    print(f"ratio: {ratio:.2f} (goal <= 1.25: {'met' if ratio <= 1.25 else 'NOT met'})")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
