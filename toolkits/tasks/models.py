"""What the delegation tools return and accept (schemas and text renderings). No agent imports:
the server builds these tools without loading the agent."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from server.output_caps import clip_value
from server.toolkit import ToolOutput
from toolkits.tasks.artifacts import Artifacts, DeclinedAction
from toolkits.tasks.statuses import RunStatus

ApprovalMode = Literal["ask", "deny", "yolo"]


class PendingApproval(BaseModel):
    call_id: str = Field(description="Decide it with ml_task(action='approve').")
    tool: str
    arguments: dict[str, Any]
    reason: str = Field(description="Why the policy asks.")
    kind: Literal["tool", "budget"] = "tool"
    estimated_cost_usd: float | None = None

    def line(self) -> str:
        args = clip_value(json.dumps(self.arguments, default=str), 160)
        if self.kind == "budget":
            return f"- {self.call_id}: raise the spending cap? ({self.reason})"
        return f"- {self.call_id}: {self.tool}({args}) — asks because {self.reason}"


class EventLine(BaseModel):
    seq: int
    at: float
    kind: str
    summary: str


class RunReport(ToolOutput):
    run_id: str
    status: RunStatus
    task: str = Field(description="The task, shortened.")
    summary: str | None = Field(default=None, description="The agent's final answer.")
    artifacts: Artifacts = Field(default_factory=Artifacts)
    declined: list[DeclinedAction] = Field(
        default_factory=list, description="Actions refused by a person or the policy."
    )
    pending: list[PendingApproval] = Field(
        default_factory=list, description="Approvals the run waits for."
    )
    cost_usd: float = Field(description="LLM cost (plus estimated paid-job cost) so far.")
    interventions: list[str] = Field(
        default_factory=list,
        description="Per restart chain the run drove (final report): the metric before and "
        "after, wall time and cost spent, and whether it ended better than its first run.",
    )
    iterations: int
    model: str | None = None
    session_id: str | None = None
    hint: str = Field(description="What to do next.")

    def render(self) -> str:
        lines = [f"Run {self.run_id}: {self.status} after {self.iterations} step(s), "]
        lines[0] += f"${self.cost_usd:.4f}" + (f" ({self.model})" if self.model else "")
        lines.append(f"Task: {self.task}")
        if self.summary:
            lines += ["", self.summary, ""]
        if not self.artifacts.is_empty():
            produced = {k: v for k, v in self.artifacts.model_dump().items() if v}
            lines.append(
                "Artifacts: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in produced.items())
            )
        lines += [f"Interventions: {line}" for line in self.interventions]
        for refusal in self.declined:
            why = f": {refusal.feedback}" if refusal.feedback else ""
            lines.append(f"Declined ({refusal.by}): {refusal.tool}{why}")
        if self.pending:
            lines.append("Waiting for approval:")
            lines += [p.line() for p in self.pending]
        lines.append(self.hint)
        return "\n".join(lines)


class RunStatusView(RunReport):
    events: list[EventLine] = Field(default_factory=list, description="New events since 'since'.")
    next_since: int = Field(description="Pass as since= next time to get only newer events.")
    more_events: bool = Field(description="True: more events are waiting; call again now.")

    def render(self) -> str:
        steps = [f"#{e.seq} {e.summary}" for e in self.events]
        if self.more_events:
            steps.append(f"(more events: call again with since={self.next_since})")
        return "\n".join([*steps, "", super().render()]) if steps else super().render()


class ApprovalDecisionInput(BaseModel):
    call_id: str = Field(min_length=1, max_length=200)
    action: Literal["approve", "deny"]
    feedback: str | None = Field(default=None, max_length=2000, description="Why, to the agent.")
    always: bool = Field(default=False, description="For the rest of the run.")
    new_budget_usd: float | None = Field(
        default=None, ge=0, le=1_000_000, description="For a spending-cap request."
    )


class ApprovalAnswer(BaseModel):
    """The form a person fills in when the host shows an approval request."""

    approve: bool = Field(description="Let the agent make this call.")
    feedback: str = Field(
        default="", max_length=2000, description="If not: why, or what to do instead."
    )


class ResearchSource(BaseModel):
    kind: Literal["paper", "model", "dataset", "docs", "code"]
    ref: str = Field(description="arXiv id, repo id, URL or owner/repo:path.")
    cited: bool = Field(description="The summary names it.")


class ResearchReport(ToolOutput):
    question: str
    summary: str = Field(description="The cited answer: paper → result → dataset → recipe.")
    sources: list[ResearchSource] = Field(
        default_factory=list, description="What the sub-agent actually read."
    )
    ended: str = Field(description="completed, max_iterations, budget, error ...")
    iterations: int
    cost_usd: float
    model: str

    def render(self) -> str:
        lines = [self.summary.strip() or "(no answer)", ""]
        if self.sources:
            lines.append("Sources read:")
            lines += [
                f"- [{s.kind}] {s.ref}" + ("" if s.cited else " (read, not cited)")
                for s in self.sources
            ]
        lines.append(
            f"({self.ended} after {self.iterations} step(s), ${self.cost_usd:.4f}, {self.model})"
        )
        return "\n".join(lines)
