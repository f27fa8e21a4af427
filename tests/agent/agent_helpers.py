"""Helpers for the agent tests: a config aimed at the scripted LLM, a running agent, a lab server.

Plain functions and classes; the fixtures built on them are in ``agent_testkit.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fakes.llm import ScriptedLLM
from fastmcp import FastMCP
from mcp.types import ToolAnnotations

from agent.config import AgentConfig, load_config
from agent.events import EventLog
from agent.loop import Agent
from agent.runtime import open_agent
from server.settings import Settings

TINY_MODEL = "openai/tiny-4k"


def make_config(llm: ScriptedLLM, **overrides: Any) -> AgentConfig:
    """The shipped defaults aimed at the scripted model, with fast retries."""
    base: dict[str, Any] = {
        "model": "openai/scripted",
        "api_base": llm.api_base,
        "limits": {"transient_backoff_s": [0.01], "rate_limit_backoff_s": [0.01]},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return load_config(overrides=base)


@asynccontextmanager
async def running_agent(
    llm: ScriptedLLM,
    settings: Settings,
    *,
    extra: dict[str, FastMCP] | None = None,
    events: EventLog | None = None,
    **kwargs: Any,
) -> AsyncIterator[tuple[Agent, EventLog]]:
    config_overrides = kwargs.pop("config", {})
    log = events if events is not None else EventLog()
    async with open_agent(
        make_config(llm, **config_overrides),
        settings=settings,
        emit=log,
        extra_servers=extra,
        **kwargs,
    ) as agent:
        yield agent, log


class LabState:
    """What the lab server saw, for assertions."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.deleted: list[str] = []
        self.writes: list[str] = []
        self.write_times: list[float] = []
        self.reads: list[tuple[float, float]] = []
        self.polls = 0


def build_lab(state: LabState, frozen_status: bool = False) -> FastMCP:
    """A small MCP server with one tool of each kind the agent must treat differently."""
    lab = FastMCP("lab", instructions="A toy lab: submit jobs, poll them, read and write notes.")

    def hints(
        read_only: bool, destructive: bool = False, open_world: bool = False
    ) -> ToolAnnotations:
        return ToolAnnotations(
            read_only_hint=read_only,
            destructive_hint=destructive,
            idempotent_hint=read_only,
            open_world_hint=open_world,
        )

    @lab.tool(annotations=hints(False, open_world=True))
    def submit(name: str) -> str:
        """Submit a training job on paid hardware; returns its job id."""
        state.submitted.append(name)
        return f"submitted job_id: lab-job-{len(state.submitted)} ({name})"

    @lab.tool(annotations=hints(True))
    def status(job_id: str) -> str:
        """Status of a job."""
        state.polls += 1
        step = 0 if frozen_status else state.polls * 10
        return f"job_id: {job_id} running, step {step}"

    @lab.tool(annotations=hints(True))
    async def slow_read(seconds: float = 0.4) -> str:
        """Read something slowly."""
        started = time.monotonic()
        await asyncio.sleep(seconds)
        state.reads.append((started, time.monotonic()))
        return f"read after {seconds}s"

    @lab.tool(annotations=hints(False))
    def write_note(note: str) -> str:
        """Write a local note (changes local state only)."""
        state.writes.append(note)
        state.write_times.append(time.monotonic())
        return f"wrote {note}"

    @lab.tool(annotations=hints(False, destructive=True))
    def delete(thing: str) -> str:
        """Delete something for good."""
        state.deleted.append(thing)
        return f"deleted {thing}"

    @lab.tool(annotations=hints(True))
    def big(chars: int = 50_000) -> str:
        """A very long output."""
        return "HEAD-" + "x" * chars + "-TAIL"

    @lab.tool(annotations=hints(True))
    async def block(seconds: float = 30.0) -> str:
        """Wait a long time."""
        await asyncio.sleep(seconds)
        return "finished waiting"

    return lab


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve an ASGI app (with its lifespan: MCP apps need it) on a free loopback port."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test HTTP server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
