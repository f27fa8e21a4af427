"""What every host pays for our tool list, in tokens, per tool and per toolkit.

Measured on what a model receives: each tool's name, description and inputSchema as JSON, counted
with cl100k (app-only tools of the views, which hosts keep from the model, are left out) (the tokenizer litellm ships, so no download at run time), with every toolkit mounted.
The baseline is the same list as fastmcp/pydantic generate it before the server slims the schemas
(server/schema_slim.py), measured in the same run, so the ratio says what slimming saves.

Run: python benchmarks/tool_tokens.py [--per-tool]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]
os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

GOAL = 7_000


def _encoder():
    from litellm.litellm_core_utils.default_encoding import encoding

    return encoding


async def _tools(slim: bool) -> list[dict[str, Any]]:
    from fastmcp import Client

    from agent.mcp_connections import app_only
    from server import schema_slim
    from server.app import build_server
    from server.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="mlintern-tokens-"))
    original = schema_slim.slim_schema
    if not slim:
        schema_slim.slim_schema = lambda schema: schema  # the schemas as pydantic writes them
    try:
        async with Client(build_server(Settings(home=home))) as client:
            listed = await client.list_tools()
    finally:
        schema_slim.slim_schema = original
    return [
        {"name": t.name, "description": t.description or "", "inputSchema": t.input_schema}
        for t in listed
        if not app_only(t)  # kept from the model by hosts and by the bundled agent
    ]


def _toolkit_of(name: str) -> str:
    from server.registry import TOOLKITS

    for toolkit in TOOLKITS:
        if name.startswith(f"{toolkit}_"):
            return toolkit
    if name.startswith("views_"):
        return "views"  # the MCP Apps' app-only tools (server/views)
    return "tasks"  # run_ml_task, ml_task, research: listed without a prefix


def measure(tools: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    encoding = _encoder()
    per_tool: dict[str, dict[str, int]] = {}
    for tool in tools:
        per_tool[tool["name"]] = {
            "total": len(encoding.encode(json.dumps(tool))),
            "schema": len(encoding.encode(json.dumps(tool["inputSchema"]))),
            "description": len(encoding.encode(tool["description"])),
        }
    return per_tool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-tool", action="store_true", help="print every tool's figures")
    args = parser.parse_args()
    before = measure(asyncio.run(_tools(slim=False)))
    after = measure(asyncio.run(_tools(slim=True)))
    kits_before: dict[str, int] = defaultdict(int)
    kits_after: dict[str, int] = defaultdict(int)
    for name in after:
        kits_after[_toolkit_of(name)] += after[name]["total"]
        kits_before[_toolkit_of(name)] += before.get(name, {"total": 0})["total"]
    if args.per_tool:
        print(f"{'tool':32} {'before':>7} {'after':>7} {'schema':>7} {'descr':>7}")
        for name, figures in sorted(after.items(), key=lambda kv: -kv[1]["total"]):
            print(
                f"{name:32} {before[name]['total']:7} {figures['total']:7} "
                f"{figures['schema']:7} {figures['description']:7}"
            )
        print()
    print(f"{'toolkit':14} {'before':>7} {'after':>7} {'share':>6}")
    total_before, total_after = sum(kits_before.values()), sum(kits_after.values())
    for kit, tokens in sorted(kits_after.items(), key=lambda kv: -kv[1]):
        print(f"{kit:14} {kits_before[kit]:7} {tokens:7} {tokens / total_after:6.1%}")
    schema = sum(f["schema"] for f in after.values())
    descr = sum(f["description"] for f in after.values())
    print(
        f"\n{len(after)} tools: {total_before} tokens before slimming, {total_after} after "
        f"(ratio {total_after / total_before:.2f}); schemas {schema}, descriptions {descr}; "
        f"goal <= {GOAL}: {'met' if total_after <= GOAL else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
