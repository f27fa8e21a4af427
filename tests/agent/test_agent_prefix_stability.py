"""Providers that cache automatically (OpenAI and others) need a byte-stable prefix: the raw
request bodies the scripted server received keep system message and tools identical across
iterations (issue 18, first part)."""

from __future__ import annotations

from agent_helpers import build_lab, running_agent
from fakes.llm import ScriptedLLM, call, calls, say

from server.settings import Settings

pytest_plugins = ["agent_testkit"]


async def test_system_and_tools_are_byte_identical_between_iterations(
    llm: ScriptedLLM, settings: Settings, lab_state
) -> None:
    llm.add(
        calls(call("lab__status", {"job_id": "lab-job-1"})),
        calls(call("lab__big", {"chars": 2000})),
        say("done"),
    )
    async with running_agent(llm, settings, extra={"lab": build_lab(lab_state)}) as (agent, _e):
        result = await agent.run("check the job")
    assert result.reason == "completed" and len(llm.requests) == 3
    # The bytes as they reached the server, not a re-serialisation of what was parsed.
    prefixes = {r.raw_prefix for r in llm.requests}
    assert len(prefixes) == 1
    [prefix] = prefixes
    assert '"role": "system"' in prefix or '"role":"system"' in prefix
    assert "lab__status" in prefix and "cache_control" not in prefix
    # What follows the prefix did change: the history grew (the check is not vacuous).
    assert len({r.raw for r in llm.requests}) == 3
    assert all(r.body["messages"][0]["role"] == "system" for r in llm.requests)
