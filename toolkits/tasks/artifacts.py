"""What a run produced and what it was refused, read back from its event log.

The report names things a person can look at afterwards (job ids, Hub repos, files written in
sandboxes, plots, journals) so the host does not have to dig through the run's steps. Only
successful calls count: a refused or failed jobs_submit launched nothing.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from toolkits.tasks.store import StoredEvent

JOB_ID = re.compile(r"\bj-[0-9a-f]{10}\b")
SANDBOX_ID = re.compile(r"\bsbx-[0-9a-f]{12}\b")
JOURNAL_ENTRY = re.compile(r"Journal '([^']{1,64})' entry")


class Artifacts(BaseModel):
    job_ids: list[str] = Field(default_factory=list, description="Jobs the run launched.")
    repo_ids: list[str] = Field(default_factory=list, description="Hub repos created or written.")
    files: list[str] = Field(default_factory=list, description="Sandbox files written.")
    sandbox_ids: list[str] = Field(default_factory=list)
    plots: list[str] = Field(default_factory=list, description="Runs the agent plotted.")
    journals: list[str] = Field(default_factory=list, description="Experiment journals written.")

    def is_empty(self) -> bool:
        return not any(self.model_dump().values())


class DeclinedAction(BaseModel):
    tool: str
    by: str = Field(description="user (a person or the host said no) or policy")
    feedback: str | None = None


def _add(target: list[str], *values: Any) -> None:
    for value in values:
        if isinstance(value, str) and value and value not in target:
            target.append(value)


def _base_name(tool: str) -> str:
    # Tools of other MCP servers carry a '<server>__' prefix; ours keep the catalogue name.
    return tool.rsplit("__", 1)[-1]


def collect_artifacts(events: list[StoredEvent]) -> Artifacts:
    """Scan tool_call / tool_output events (in order) for the things a run produced."""
    found = Artifacts()
    arguments: dict[str, dict[str, Any]] = {}
    for event in events:
        data = event.data
        call_id = str(data.get("call_id", ""))
        if event.kind == "tool_call":
            args = data.get("arguments")
            arguments[call_id] = args if isinstance(args, dict) else {}
            continue
        if event.kind != "tool_output" or data.get("is_error"):
            continue
        tool = _base_name(str(data.get("tool", "")))
        output = str(data.get("output", ""))
        args = arguments.get(call_id, {})
        if tool in ("jobs_submit", "experiments_restart"):
            _add(found.job_ids, *JOB_ID.findall(output))
        if tool == "experiments_restart":
            _add(found.journals, *JOURNAL_ENTRY.findall(output))
        if tool == "experiments_journal" and args.get("action") == "append":
            _add(found.journals, args.get("experiment"))
        if tool == "hub_write" and args.get("op") in ("create", "upload"):
            _add(found.repo_ids, args.get("repo_id"))
        if tool == "sandbox_create":
            _add(found.sandbox_ids, *SANDBOX_ID.findall(output))
        if tool == "sandbox_files" and args.get("op") in ("write", "edit") and args.get("path"):
            _add(found.files, f"{args.get('sandbox_id')}:{args['path']}")
        if tool == "experiments_metrics" and args.get("plot"):
            _add(found.plots, args.get("source"))
    return found


def collect_declined(events: list[StoredEvent]) -> list[DeclinedAction]:
    return [
        DeclinedAction(
            tool=str(e.data.get("tool", "")),
            by=str(e.data.get("by", "user")),
            feedback=e.data.get("feedback"),
        )
        for e in events
        if e.kind == "approval_decided" and e.data.get("action") == "deny"
    ]
