"""The research sub-agent: a short agent run over read-only research tools that returns only a
cited summary.

It gets its own conversation (so its own context window and compaction), a read-only copy of the
research toolkits (papers, docs, hub, datasets, github: nothing that changes anything is even
registered), no other MCP servers, and the cheaper model of MLINTERN_RESEARCH_MODEL when set.
The caller sees progress while it reads, then the summary and the list of sources it actually
read; the tool outputs themselves never leave this function.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.approvals import ApprovalRequest, Decision
from server.toolkit import ToolkitContext
from toolkits.tasks import agent_setup
from toolkits.tasks.models import ResearchReport, ResearchSource
from toolkits.tasks.run_events import event_record, progress_message

if TYPE_CHECKING:
    from fastmcp import Context

PROMPT = Path(__file__).parent / "prompts" / "research.md"
_ARXIV = re.compile(r"\b(\d{4}\.\d{4,5})(v\d+)?\b")


async def _nothing_to_approve(request: ApprovalRequest) -> Decision:
    # Only read-only tools are registered, so this is never reached; refusing is the safe answer.
    return Decision.deny("the research sub-agent only reads")


def source_of(tool: str, arguments: dict[str, Any]) -> ResearchSource | None:
    """What a successful read-tool call read, as a citable reference (None: a search)."""

    def src(kind: str, ref: Any) -> ResearchSource | None:
        return ResearchSource(kind=kind, ref=str(ref), cited=False) if ref else None  # type: ignore[arg-type]

    if tool == "papers_get":
        return src("paper", arguments.get("arxiv_id"))
    if tool == "hub_repo":
        kind = "dataset" if arguments.get("kind") == "dataset" else "model"
        return src(kind, arguments.get("repo_id"))
    if tool == "datasets_inspect":
        return src("dataset", arguments.get("dataset"))
    if tool == "docs_search" and arguments.get("url"):
        return src("docs", arguments.get("url"))
    if tool == "github_read_file":
        repo, path = arguments.get("repo"), arguments.get("path")
        return src("code", f"{repo}:{path}" if repo and path else None)
    return None


def is_cited(source: ResearchSource, summary: str) -> bool:
    if source.kind == "paper":
        wanted = _ARXIV.search(source.ref)
        return bool(wanted) and wanted.group(1) in summary  # type: ignore[union-attr]
    if source.kind == "code":
        repo = source.ref.split(":", 1)[0]
        return source.ref in summary or repo in summary
    return source.ref in summary


class ResearchWatcher:
    """Event sink: progress to the caller, and the list of sources read."""

    def __init__(self, ctx: Context | None, secrets: tuple[str, ...]):
        self.ctx = ctx
        self.secrets = secrets
        self.sent = 0
        self.step: int | None = None
        self._calls: dict[str, tuple[str, dict[str, Any]]] = {}
        self.sources: list[ResearchSource] = []

    async def __call__(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if kind == "tool_call" and isinstance(event.arguments, dict):
            self._calls[event.call_id] = (event.tool, event.arguments)
        elif kind == "tool_output" and not event.is_error and event.call_id in self._calls:
            source = source_of(*self._calls[event.call_id])
            if source is not None and all(s.ref != source.ref for s in self.sources):
                self.sources.append(source)
        elif kind == "iteration":
            self.step = event.iteration
        record = event_record(event, self.secrets)
        if record is None or self.ctx is None or kind in ("tool_output", "assistant", "done"):
            return  # outputs and drafts stay inside the sub-agent
        self.sent += 1
        await self.ctx.report_progress(self.sent, None, progress_message(*record, self.step))


async def research(
    ctx: ToolkitContext,
    question: str,
    context: str | None,
    max_iterations: int,
    progress: Context | None = None,
) -> ResearchReport:
    from agent.runtime import open_agent

    toolsets = agent_setup.research_toolsets(ctx)
    config = agent_setup.load_run_config(
        ctx, model=ctx.settings.research_model, max_iterations=max_iterations
    )
    config.system_prompt = str(PROMPT)
    config.mcp_servers = {}  # research reads mlintern's sources only; no other server's tools
    config.approvals.mode = "ask"
    config.limits.max_continuation_nudges = 0  # it keeps no plan
    bundled = agent_setup.inner_server(ctx, toolsets, read_only=True)
    watcher = ResearchWatcher(progress, tuple(config.secrets()))
    prompt = f"Question: {question.strip()}"
    if context:
        prompt += f"\n\nWhat the caller already knows or needs:\n{context.strip()}"
    async with open_agent(
        config,
        settings=ctx.settings,
        emit=watcher,
        approver=_nothing_to_approve,
        bundled=bundled,
    ) as agent:
        result = await agent.run(prompt)
    summary = result.final_text or ""
    for source in watcher.sources:
        source.cited = is_cited(source, summary)
    return ResearchReport(
        question=question,
        summary=summary,
        sources=watcher.sources,
        ended=result.reason,
        iterations=result.iterations,
        cost_usd=round(result.cost_usd, 6),
        model=str(config.model),
    )
