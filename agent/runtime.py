"""Assembling an agent from a config: model, connections, context, approvals, session.

``open_agent`` is the one entry point for every front end: the CLI, and ``run_ml_task`` inside
the server (which passes its own FastMCP object as ``bundled``, its approval broker as
``approver`` and an event sink that becomes progress notifications).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from agent.approvals import ApprovalPolicy, Approver, approve_all, refuse_all
from agent.config import AgentConfig
from agent.context import ContextManager
from agent.effort import EffortSetting
from agent.events import EventSink
from agent.llm import LiteLLMModel
from agent.loop import Agent
from agent.mcp_connections import open_connections
from agent.prompts import Prompts, system_message
from agent.sessions import SessionStore
from agent.spending import Spending
from agent.tool_calls import ToolCallRunner
from server.errors import UserError

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from server.settings import Settings


def resolve_model(config: AgentConfig, settings: Settings) -> str:
    return config.model or settings.agent_model


@asynccontextmanager
async def open_agent(
    config: AgentConfig,
    *,
    settings: Settings | None = None,
    emit: EventSink | None = None,
    approver: Approver | None = None,
    interactive: bool = False,
    resume: str | None = None,
    bundled: FastMCP | None = None,
    extra_servers: dict[str, FastMCP] | None = None,
    save_session: bool = True,
) -> AsyncIterator[Agent]:
    """Connect, build and yield an ``Agent``; close its connections and session on exit."""
    from server.settings import Settings

    settings = settings or Settings()
    prompts = Prompts.load(config.system_prompt)
    mode = config.approvals.mode or ("ask" if interactive else "deny")
    if approver is None:
        if mode == "ask" and not interactive:
            raise UserError(
                "approvals.mode 'ask' needs someone to ask: run interactively, or use --yolo / --approve."
            )
        approver = approve_all if mode == "yolo" else refuse_all
    policy = ApprovalPolicy(config.approvals, yolo=mode == "yolo")
    store = SessionStore(settings.home, config.secrets())
    saved = store.load(resume) if resume else None
    model_name = (
        config.model or (saved.meta.get("model") if saved else None) or settings.agent_model
    )

    model = LiteLLMModel(
        model=model_name,
        limits=config.limits,
        api_base=config.api_base,
        api_key=config.api_key,
        temperature=config.temperature,
        max_output_tokens=config.max_output_tokens,
        emit=emit,
        prompt_caching=config.prompt_caching,
        effort=EffortSetting(config.reasoning_effort),
    )
    connections = await open_connections(config, settings, bundled=bundled, extra=extra_servers)
    session = None
    try:
        if saved is not None:
            messages = saved.messages
            session = store.reopen(saved.session_id) if save_session else None
        else:
            messages = [system_message(prompts.system, connections.instructions)]
            if save_session:
                session = store.create(
                    {
                        "model": model_name,
                        "api_base": config.api_base,
                        "servers": sorted({s.server for s in connections.tools.values()}),
                        "cwd": os.getcwd(),
                    }
                )
        context = ContextManager(
            [] if saved is None and session is not None else messages,
            lambda: model.window().max_input_tokens,
            config.limits,
            connections.schemas(),
            plan_tools=[
                spec.name
                for role in ("plan.update", "plan.get")
                for spec in connections.with_role(role)
            ],
        )
        if session is not None:
            context.subscribe(session.on_context)
            if saved is None:
                for message in messages:  # the system prompt goes into the file like the rest
                    context.append(message)
        spending = Spending(cap_usd=config.budget_usd, llm_usd=saved.cost_usd if saved else 0.0)
        runner = ToolCallRunner(
            tools=connections,
            context=context,
            policy=policy,
            approver=approver,
            spending=spending,
            limits=config.limits,
            emit=emit,
            session=session,
            secrets=tuple(config.secrets()),
        )
        agent = Agent(
            model=model,
            tools=connections,
            context=context,
            runner=runner,
            prompts=prompts,
            limits=config.limits,
            emit=emit,
            session=session,
            stream=config.stream,
            started_calls=saved.started_calls if saved else None,
        )
        if saved is not None:
            agent.iterations = saved.iterations
        yield agent
    finally:
        if session is not None:
            session.close()
        await connections.aclose()
