"""Approvals: which tool calls need a person's yes, and who gives it.

The policy reads the tools' MCP annotations: a mutating tool that is destructive or reaches the
outside world (paid jobs, Hub uploads) asks; a mutating tool that only changes local
bookkeeping (the plan) does not. Config patterns refine that (``deny`` > ``ask`` > ``allow``).
Who answers is an ``Approver``: the terminal prompt, the headless rule (refuse unless
``--yolo`` or ``--approve``), or ``PendingApprovals``, a broker whose requests someone else
decides later (``run_ml_task``'s host, ``ml_task(action='approve')``). An approver may also *defer*: the
run then stops in the ``awaiting_approval`` state and is resumed from its session once the
decision is known.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.config import ApprovalConfig
from agent.mcp_connections import ToolSpec

Verdict = Literal["allow", "ask", "deny"]


class ApprovalRequest(BaseModel):
    call_id: str
    tool: str
    arguments: dict[str, Any]
    reason: str
    kind: Literal["tool", "budget"] = "tool"
    estimated_cost_usd: float | None = None


class Decision(BaseModel):
    action: Literal["approve", "deny", "defer"]
    always: bool = Field(
        default=False, description="Approve this tool for the rest of the session."
    )
    feedback: str | None = Field(default=None, description="Why, for the model (on deny).")
    new_budget_usd: float | None = Field(
        default=None, description="Raise the cap (budget requests)."
    )

    @classmethod
    def approve(cls, always: bool = False) -> Decision:
        return cls(action="approve", always=always)

    @classmethod
    def deny(cls, feedback: str | None = None) -> Decision:
        return cls(action="deny", feedback=feedback)

    @classmethod
    def defer(cls) -> Decision:
        return cls(action="defer")


Approver = Callable[[ApprovalRequest], Awaitable[Decision]]


def matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


@dataclass
class ApprovalPolicy:
    config: ApprovalConfig = field(default_factory=ApprovalConfig)
    yolo: bool = False
    session_allowed: set[str] = field(default_factory=set)

    def verdict(self, spec: ToolSpec) -> tuple[Verdict, str]:
        """What to do with a call of ``spec``, and why (the why reaches the person)."""
        name = spec.name
        if matches(name, self.config.deny):
            return "deny", "listed under approvals.deny in the agent config"
        if name in self.session_allowed:
            return "allow", "approved for this session"
        explicit_ask = matches(name, self.config.ask)
        if not explicit_ask and matches(name, self.config.allow):
            return "allow", "listed under approvals.allow"
        if self.yolo:
            return "allow", "yolo mode"
        if explicit_ask:
            return "ask", "listed under approvals.ask"
        if spec.read_only:
            return "allow", "read-only"
        if spec.destructive:
            return "ask", "it is destructive"
        if spec.open_world:
            return "ask", "it changes something outside this machine (and may cost money)"
        return "allow", "it only changes local state"


async def refuse_all(request: ApprovalRequest) -> Decision:
    """The headless approver: nobody is there to say yes."""
    if request.kind == "budget":
        return Decision.deny("the spending cap is reached and nobody is there to raise it")
    return Decision.deny(
        "Refused: the agent runs headless and nobody can approve this. The user can rerun "
        f"with --approve '{request.tool}' or --yolo to allow it."
    )


async def approve_all(request: ApprovalRequest) -> Decision:
    """Yolo: every tool call goes ahead, but the spending cap is not lifted by itself."""
    if request.kind == "budget":
        return Decision.deny("the spending cap is reached (yolo does not raise it)")
    return Decision.approve()


class PendingApprovals:
    """An approver whose requests are decided by someone else, later.

    ``await broker(request)`` parks the request until ``decide(call_id, decision)`` is called
    from elsewhere (another task, an MCP tool handler). ``on_request`` is told about each new
    request, e.g. to send an elicitation or a progress message.
    """

    def __init__(
        self, on_request: Callable[[ApprovalRequest], Awaitable[None] | None] | None = None
    ):
        self._waiting: dict[str, tuple[ApprovalRequest, asyncio.Future[Decision]]] = {}
        self._on_request = on_request

    @property
    def pending(self) -> list[ApprovalRequest]:
        return [request for request, _ in self._waiting.values()]

    async def __call__(self, request: ApprovalRequest) -> Decision:
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting[request.call_id] = (request, future)
        try:
            if self._on_request is not None:
                result = self._on_request(request)
                if asyncio.iscoroutine(result):
                    await result
            return await future
        finally:
            self._waiting.pop(request.call_id, None)

    def decide(self, call_id: str, decision: Decision) -> bool:
        """Resolve a pending request; False when nothing waits under ``call_id``."""
        entry = self._waiting.get(call_id)
        if entry is None or entry[1].done():
            return False
        entry[1].set_result(decision)
        return True


def denial_text(tool: str, decision: Decision, by: str) -> str:
    """The tool result the model sees for a refused call."""
    who = "The user" if by == "user" else "The approval policy"
    text = f"{who} declined this call of {tool}; it was not executed."
    if decision.feedback:
        text += f" Feedback: {decision.feedback}"
    return text + " Do not repeat the same call; adjust your approach or ask the user."
