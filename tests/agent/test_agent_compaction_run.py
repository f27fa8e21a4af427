"""A long run on a 4k-token model: compaction keeps it under the window and keeps the job id."""

from __future__ import annotations

from agent_helpers import running_agent
from fakes.llm import ScriptedLLM, call, calls, request_text, say
from fastmcp import FastMCP
from mcp.types import ToolAnnotations

import configs
from server.settings import Settings

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]

WINDOW = 4096
JOB_ID = "lab-job-7f3a"


def build_trainer() -> FastMCP:
    trainer = FastMCP("trainer")
    epochs = {"n": 0}

    @trainer.tool(
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, open_world_hint=False
        )
    )
    def submit(script: str) -> str:
        """Start a training job; returns its id."""
        return f"started job_id: {JOB_ID} for {script}"

    @trainer.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def metrics() -> str:
        """Latest metrics of the running job."""
        epochs["n"] += 1
        n = epochs["n"]
        lines = [
            f"epoch {n} batch {b}: loss {1 / (n + b + 1):.4f} lr 3e-4 grad_norm 0.9{b}"
            for b in range(12)
        ]
        return "\n".join(lines)

    return trainer


def is_summary_request(request: dict) -> bool:
    marker = configs.read_text("prompts/compaction.md").splitlines()[0]
    return str(request["messages"][0].get("content", "")).startswith(marker)


async def test_thirty_tool_steps_fit_a_4k_model_and_keep_the_job_id(
    llm: ScriptedLLM, settings: Settings, tiny_model: str
) -> None:
    llm.context_limit = WINDOW  # the fake refuses (and the test fails) on any larger request
    # A forgetful summariser: it never repeats the id, so only the note's handles can carry it.
    llm.route(
        "summariser",
        is_summary_request,
        lambda request: say("Trained; loss keeps falling."),
        min_calls=2,
    )
    llm.add(calls(call("trainer__submit", {"script": "train.py"})))
    llm.add(*[calls(call("trainer__metrics", {})) for _ in range(29)])

    def knows_the_job(request: dict) -> bool | str:
        messages = request["messages"]
        if any(JOB_ID in str(m.get("content")) for m in messages[2:3]):
            return True
        return f"{JOB_ID} missing from the compacted note: {request_text(request)[:300]}"

    llm.add(say(f"Job {JOB_ID} finished; final loss is low.", expect=knows_the_job))
    config = {
        "model": tiny_model,
        "bundled": {"toolsets": ["plan"]},
        "limits": {"keep_recent_turns": 3, "max_iterations": 40},
    }
    async with running_agent(llm, settings, extra={"trainer": build_trainer()}, config=config) as (
        agent,
        events,
    ):
        result = await agent.run("Train train.py and report the final loss.")

    assert result.reason == "completed"
    tool_steps = [e for e in events.of("tool_output") if not e.is_error]
    assert len(tool_steps) == 30
    compactions = events.of("compacted")
    assert len(compactions) >= 2 and all(c.reason == "threshold" for c in compactions)
    from fakes.llm import estimate_tokens

    largest = max(estimate_tokens(r.body) for r in llm.requests)
    assert largest < WINDOW, f"largest request ~{largest} tokens"
    # The original task survives every compaction verbatim.
    last = llm.requests[-1].messages
    assert last[1] == {"role": "user", "content": "Train train.py and report the final loss."}
