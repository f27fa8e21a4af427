"""Approvals: the policy from annotations and config, who decides, refusals, and the spending cap."""

from __future__ import annotations

import asyncio

import pytest
from agent_helpers import LabState, running_agent
from fakes.llm import ScriptedLLM, call, calls, say
from fastmcp import FastMCP
from mcp.types import ToolAnnotations

from agent.approvals import ApprovalPolicy, ApprovalRequest, Decision, PendingApprovals
from agent.config import ApprovalConfig
from agent.mcp_connections import ToolSpec
from server.settings import Settings
from server.tool_roles import role_meta

# The shared fixtures (scripted LLM, lab server, ...) live in tests/agent/agent_testkit.py.
pytest_plugins = ["agent_testkit"]


def spec(
    name: str, *, read_only: bool = False, destructive: bool = False, open_world: bool = False
) -> ToolSpec:
    return ToolSpec(name, "s", name, "", {}, read_only, destructive, read_only, open_world)


def test_policy_follows_annotations_then_config_patterns() -> None:
    policy = ApprovalPolicy()
    assert policy.verdict(spec("plan_get", read_only=True))[0] == "allow"
    assert policy.verdict(spec("plan_update"))[0] == "allow"  # local bookkeeping only
    assert policy.verdict(spec("jobs_submit", open_world=True)) == (
        "ask",
        "it changes something outside this machine (and may cost money)",
    )
    assert policy.verdict(spec("hub_write", destructive=True, open_world=True))[0] == "ask"
    configured = ApprovalPolicy(
        ApprovalConfig(allow=["jobs_*"], ask=["plan_update"], deny=["hub_write"])
    )
    assert configured.verdict(spec("jobs_submit", open_world=True))[0] == "allow"
    assert configured.verdict(spec("plan_update"))[0] == "ask"
    assert configured.verdict(spec("hub_write", destructive=True))[0] == "deny"
    yolo = ApprovalPolicy(ApprovalConfig(deny=["hub_write"]), yolo=True)
    assert yolo.verdict(spec("sandbox_destroy", destructive=True))[0] == "allow"
    assert yolo.verdict(spec("hub_write", destructive=True))[0] == "deny"  # deny beats yolo


class ScriptedApprover:
    """Answers approval requests in order, like a person at the terminal would."""

    def __init__(self, *decisions: Decision):
        self.decisions = list(decisions)
        self.requests: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> Decision:
        self.requests.append(request)
        return self.decisions.pop(0)


def tool_results(request: dict) -> list[str]:
    return [str(m["content"]) for m in request["messages"] if m.get("role") == "tool"]


async def test_approved_call_runs(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, lab_state: LabState
) -> None:
    approver = ScriptedApprover(Decision.approve())
    llm.add(calls(call("lab__submit", {"name": "big-run"})), say("submitted"))
    async with running_agent(
        llm, settings, extra={"lab": lab}, approver=approver, interactive=True
    ) as (agent, events):
        assert (await agent.run("go")).reason == "completed"
    assert lab_state.submitted == ["big-run"]
    [request] = approver.requests
    assert request.tool == "lab__submit" and request.arguments == {"name": "big-run"}
    assert "outside this machine" in request.reason
    assert [e.action for e in events.of("approval_decided")] == ["approve"]


async def test_denial_with_feedback_reaches_the_model(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, lab_state: LabState
) -> None:
    approver = ScriptedApprover(Decision.deny("use the small GPU instead"))

    def heard_feedback(request: dict) -> bool | str:
        [text] = tool_results(request)
        return ("declined" in text and "Feedback: use the small GPU instead" in text) or text

    llm.add(
        calls(call("lab__delete", {"thing": "checkpoints"})),
        say("ok, kept them", expect=heard_feedback),
    )
    async with running_agent(
        llm, settings, extra={"lab": lab}, approver=approver, interactive=True
    ) as (agent, _):
        assert (await agent.run("clean up")).reason == "completed"
    assert lab_state.deleted == []
    assert "destructive" in approver.requests[0].reason


async def test_always_stops_asking_for_that_tool(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, lab_state: LabState
) -> None:
    approver = ScriptedApprover(Decision.approve(always=True))
    llm.add(
        calls(call("lab__submit", {"name": "a"})),
        calls(call("lab__submit", {"name": "b"})),
        say("two runs"),
    )
    async with running_agent(
        llm, settings, extra={"lab": lab}, approver=approver, interactive=True
    ) as (agent, _):
        await agent.run("go")
    assert lab_state.submitted == ["a", "b"] and len(approver.requests) == 1


async def test_headless_refuses_mutating_tools_unless_approved_by_pattern(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, lab_state: LabState
) -> None:
    def refused(request: dict) -> bool | str:
        texts = tool_results(request)
        return (
            "--approve 'lab__submit'" in texts[0] and "plan 'default'" in texts[1].lower()
        ) or repr(texts)

    # Refused: the paid submit. Allowed without asking: plan_update (it only changes local state).
    llm.add(
        calls(
            call("lab__submit", {"name": "x"}),
            call("plan_update", {"todos": [{"id": "1", "content": "c", "status": "completed"}]}),
        ),
        say("could not submit", expect=refused),
    )
    async with running_agent(llm, settings, extra={"lab": lab}) as (agent, _):
        await agent.run("go")
    assert lab_state.submitted == []

    llm.add(calls(call("lab__submit", {"name": "y"})), say("submitted"))
    async with running_agent(
        llm, settings, extra={"lab": lab}, config={"approvals": {"allow": ["lab__sub*"]}}
    ) as (agent, events):
        await agent.run("go")
    assert lab_state.submitted == ["y"] and not events.of("approval_needed")


async def test_an_approval_decided_elsewhere_resumes_the_waiting_run(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, lab_state: LabState
) -> None:
    asked = asyncio.Event()
    broker = PendingApprovals(on_request=lambda request: asked.set())
    llm.add(calls(call("lab__submit", {"name": "remote"})), say("done"))
    async with running_agent(llm, settings, extra={"lab": lab}, approver=broker) as (agent, _):
        run = asyncio.create_task(agent.run("go"))
        await asyncio.wait_for(asked.wait(), 30)
        [pending] = broker.pending
        assert pending.tool == "lab__submit" and not run.done()
        assert broker.decide(pending.call_id, Decision.approve())
        assert (await run).reason == "completed"
    assert lab_state.submitted == ["remote"] and broker.pending == []
    assert not broker.decide("no-such-call", Decision.approve())


async def test_deferred_approval_pauses_and_a_later_process_resumes_it(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, lab_state: LabState
) -> None:
    llm.add(
        calls(
            call("plan_get", {}),
            call("lab__submit", {"name": "later"}),
            call("lab__write_note", {"note": "n"}),
        )
    )
    async with running_agent(
        llm, settings, extra={"lab": lab}, approver=ScriptedApprover(Decision.defer())
    ) as (agent, _):
        paused = await agent.run("go")
    assert (
        paused.reason == "awaiting_approval"
        and lab_state.submitted == []
        and lab_state.writes == []
    )
    [pending] = paused.pending
    assert pending.tool == "lab__submit"

    def got_results(request: dict) -> bool | str:
        texts = tool_results(request)
        return (
            len(texts) == 3 and "submitted job_id: lab-job-1" in texts[1] and "wrote n" in texts[2]
        ) or repr(texts)

    llm.add(say("submitted after approval", expect=got_results))
    refuse_if_asked = ScriptedApprover()  # the decision is already known: nobody is asked again
    async with running_agent(
        llm, settings, extra={"lab": lab}, approver=refuse_if_asked, resume=paused.session_id
    ) as (agent, _):
        result = await agent.run(None, decisions={pending.call_id: Decision.approve()})
    assert result.reason == "completed" and refuse_if_asked.requests == []
    assert lab_state.submitted == ["later"] and lab_state.writes == ["n"]


def build_cloud(submitted: list[str]) -> FastMCP:
    """A third-party jobs server: its paid tool and its price list declare their roles under
    names of their own; a tool that merely shares mlintern's name declares none (the control)."""
    cloud = FastMCP("cloud")

    @cloud.tool(
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
        meta=role_meta("jobs.hardware"),
    )
    def flavors() -> dict:
        """Hardware flavors and prices."""
        return {
            "flavors": [
                {"flavor": "a10g-small", "price_per_hour": 1.0},
                {"flavor": "h100", "price_per_hour": 10.0},
            ]
        }

    open_world = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)

    @cloud.tool(annotations=open_world, meta=role_meta("jobs.submit"))
    def launch(script: str, flavor: str, timeout: str = "30m", backend: str = "hf") -> str:
        """Submit a paid job."""
        submitted.append(flavor)
        return f"job_id: hf-{len(submitted)}"

    @cloud.tool(annotations=open_world)
    def jobs_submit(script: str, flavor: str, timeout: str = "30m") -> str:
        """Queue a print job (named like mlintern's tool, but it declares no role)."""
        submitted.append(f"print:{flavor}")
        return "queued"

    return cloud


@pytest.mark.parametrize("raise_cap", [False, True])
async def test_yolo_stops_at_the_cap_counting_estimated_job_cost(
    llm: ScriptedLLM, settings: Settings, raise_cap: bool
) -> None:
    submitted: list[str] = []
    llm.add(
        # Not priced: it shares the name, not the role (10 h of h100 would be $100).
        calls(call("cloud__jobs_submit", {"script": "t.py", "flavor": "h100", "timeout": "10h"})),
        calls(call("cloud__launch", {"script": "t.py", "flavor": "a10g-small", "timeout": "1h"})),
        calls(call("cloud__launch", {"script": "t.py", "flavor": "h100"})),  # 30 min × $10/h = $5
    )
    if raise_cap:
        llm.add(say("both running"))
    approver = ScriptedApprover(Decision(action="approve", new_budget_usd=20.0))
    config = {"budget_usd": 2.0, "approvals": {"mode": "yolo"}}
    kwargs = {"approver": approver, "interactive": True} if raise_cap else {}
    async with running_agent(
        llm, settings, extra={"cloud": build_cloud(submitted)}, config=config, **kwargs
    ) as (agent, events):
        result = await agent.run("train on two flavors")
        spent = agent.spending
    # Yolo never asks about tools; the cap is the one question, answered by the person or refused.
    assert [e.request_kind for e in events.of("approval_needed")] == ["budget"]
    if raise_cap:
        assert result.reason == "completed"
        assert submitted == ["print:h100", "a10g-small", "h100"]
        assert spent.cap_usd == 20.0 and spent.jobs_usd == pytest.approx(6.0)
        assert approver.requests[0].estimated_cost_usd == pytest.approx(5.0)
    else:
        assert result.reason == "budget" and submitted == ["print:h100", "a10g-small"]
        assert spent.jobs_usd == pytest.approx(1.0)
        assert "spending cap of $2.00" in result.final_text
        last_output = events.of("tool_output")[-1].output
        assert "may cost up to $5.00" in last_output


async def test_llm_cost_counts_against_the_cap(
    llm: ScriptedLLM, settings: Settings, lab: FastMCP, tiny_model: str
) -> None:
    # At $1e-5 per prompt token, each ~1000-token request costs about a cent.
    llm.add(
        calls(call("lab__status", {"job_id": "a"})), calls(call("lab__status", {"job_id": "b"}))
    )
    config = {
        "model": tiny_model,
        "budget_usd": 0.015,
        "approvals": {"mode": "yolo"},
        "bundled": {"toolsets": ["plan"]},
    }
    async with running_agent(llm, settings, extra={"lab": lab}, config=config) as (agent, events):
        result = await agent.run("poll twice")
        spent = agent.spending
    assert result.reason == "budget"
    assert spent.llm_usd > 0.015 and spent.llm_cost_known
    outputs = events.of("tool_output")
    assert len(outputs) == 2 and "spending cap" in outputs[1].output  # the second poll never ran
