"""The interactive session: a prompt, slash commands, and approvals asked at the terminal."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agent.approvals import ApprovalRequest, Decision
from agent.effort import parse_effort
from agent.llm import LiteLLMModel
from agent.loop import Agent, RunResult
from agent.sessions import SessionStore

HELP = """\
Type a task or a follow-up. Ctrl+C stops the current turn; Ctrl+D or /quit leaves.
  /help            this list
  /model [ID]      show or switch the model (any litellm id)
  /effort [LEVEL]  show or set the reasoning effort: low, medium, high, off
  /plan            show the current plan
  /compact         summarise the history now
  /status          model, context use, cost, session
  /resume [ID]     list saved sessions, or continue one
  /yolo            toggle approving every tool call (the spending cap still applies)
  /share [REPO] [--public]  upload this session, redacted, to a private HF dataset
  /quit            leave (the session is saved)"""


async def read_line(prompt: str) -> str | None:
    """``input()`` on a daemon thread: the event loop keeps running, and leaving never waits on it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def reader() -> None:
        try:
            line: str | None = input(prompt)
        except EOFError:
            line = None
        except Exception:  # a closed stdin behaves like EOF
            line = None
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(line))

    threading.Thread(target=reader, daemon=True).start()
    return await future


def terminal_approver(console: Any) -> Callable[[ApprovalRequest], Awaitable[Decision]]:
    async def ask(request: ApprovalRequest) -> Decision:
        from rich.markup import escape

        if request.kind == "budget":
            console.print(f"[bold yellow]Spending cap:[/bold yellow] {escape(request.reason)}")
            answer = await read_line("New cap in USD to continue (empty to stop): ")
            try:
                return Decision(action="approve", new_budget_usd=float(answer or ""))
            except ValueError:
                return Decision.deny("the user stopped at the spending cap")
        console.print(
            f"[bold yellow]Approve {escape(request.tool)}?[/bold yellow] ({escape(request.reason)})"
        )
        for key, value in request.arguments.items():
            console.print(f"  {escape(key)} = {escape(repr(value))[:300]}")
        answer = (await read_line("[y]es / [n]o / [a]lways / or type feedback: ") or "").strip()
        if answer.lower() in ("y", "yes"):
            return Decision.approve()
        if answer.lower() in ("a", "always"):
            return Decision.approve(always=True)
        if answer.lower() in ("", "n", "no"):
            return Decision.deny()
        return Decision.deny(answer)

    return ask


@dataclass
class ResumeRequest:
    session_id: str


async def run_turn(agent: Agent, prompt: str | None) -> RunResult:
    """Run one turn with Ctrl+C bound to cancelling it (and only it)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, agent.cancel)
    except (NotImplementedError, RuntimeError):  # not the main thread / not a POSIX loop
        pass
    try:
        return await agent.run(prompt)
    finally:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):
            pass


async def repl(agent: Agent, store: SessionStore, console: Any) -> ResumeRequest | None:
    """Prompt until /quit or EOF; returns a ResumeRequest when the user picks another session."""
    from rich.markup import escape

    console.print(
        f"[bold]mlintern-agent[/bold] · {escape(agent.model.model)} · session {agent.session_id} · /help"
    )
    while True:
        line = await read_line("› ")
        if line is None:
            return None
        line = line.strip()
        if not line:
            continue
        if not line.startswith("/"):
            await run_turn(agent, line)
            continue
        command, _, argument = line.partition(" ")
        argument = argument.strip()
        if command in ("/quit", "/exit"):
            return None
        if command == "/help":
            console.print(escape(HELP))
        elif command == "/model":
            if argument and isinstance(agent.model, LiteLLMModel):
                agent.model.switch(argument)
            console.print(f"model: {escape(agent.model.model)}")
        elif command == "/effort":
            console.print(escape(set_effort(agent, argument)))
        elif command == "/share":
            await share_from_repl(agent, store, argument, console)
        elif command == "/plan":
            await _show_plan(agent, console)
        elif command == "/compact":
            outcome = await agent.compact_now()
            if outcome is None:
                console.print("nothing to compact yet")
        elif command == "/status":
            console.print(escape(status_text(agent)))
        elif command == "/resume":
            if argument:
                return ResumeRequest(argument)
            for info in store.list(15):
                console.print(f"  {info.session_id}  {escape(info.title)}")
        elif command == "/yolo":
            policy = agent.runner.policy
            policy.yolo = not policy.yolo
            cap = agent.spending.cap_usd
            console.print(
                f"yolo {'on' if policy.yolo else 'off'}"
                + (f" (cap ${cap:.2f})" if cap else " (no spending cap: --budget-usd sets one)")
            )
        else:
            console.print(f"unknown command {escape(command)}; /help lists them")


def set_effort(agent: Agent, argument: str) -> str:
    """What ``/effort [LEVEL]`` does: set the level when given, then say where it stands."""
    if not isinstance(agent.model, LiteLLMModel):
        return "this model takes no reasoning effort"
    setting = agent.model.effort
    if argument:
        try:
            setting.effort = parse_effort(argument)
        except ValueError as exc:
            return str(exc)
    text = f"reasoning effort: {setting.effort or 'off (the provider default)'}"
    if setting.refused_by:
        text += f"; not sent to {', '.join(sorted(setting.refused_by))} (refused it)"
    return text


async def share_from_repl(agent: Agent, store: SessionStore, argument: str, console: Any) -> None:
    """``/share [REPO] [--public]``: typed by the person at the terminal, never by the model."""
    from rich.markup import escape

    from agent.share import ShareRequest, share_session
    from server.errors import UserError

    words = argument.split()
    public = "--public" in words
    repos = [w for w in words if w != "--public"]
    if agent.session_id is None or len(repos) > 1:
        console.print("usage: /share [REPO] [--public] (in a saved session)")
        return
    if agent.session is not None:
        agent.session.sync(force=True)
    request = ShareRequest(agent.session_id, repo=repos[0] if repos else None, public=public)
    try:
        # The config's keys and auth headers, as the session writer knew them.
        secrets = agent.runner.secrets
        result = await asyncio.to_thread(share_session, store, request, secrets=secrets)
    except UserError as exc:
        console.print(f"[bold red]share failed:[/bold red] {escape(str(exc))}")
        return
    console.print(escape(result.describe()))


async def _show_plan(agent: Agent, console: Any) -> None:
    from rich.markup import escape

    getters = agent.tools.with_role("plan.get")
    if not getters:
        console.print("no plan tool connected")
        return
    outcome = await agent.tools.call(getters[0].name, {})
    console.print(escape(outcome.text))


def status_text(agent: Agent) -> str:
    context = agent.context
    window = agent.model.window()
    servers = sorted({spec.server for spec in agent.tools.tools.values()})
    return "\n".join(
        [
            f"session     {agent.session_id}",
            f"model       {agent.model.model}" + ("" if window.known else " (window size assumed)"),
            f"context     ~{context.used_tokens()} / {window.max_input_tokens} tokens "
            f"(compacts at {context.threshold}), {len(context.messages)} messages",
            f"iterations  {agent.iterations}",
            f"spending    {agent.spending.describe()}"
            + (f", cap ${agent.spending.cap_usd:.2f}" if agent.spending.cap_usd else ""),
            f"approvals   {'yolo' if agent.runner.policy.yolo else 'ask'}",
            f"effort      {set_effort(agent, '').removeprefix('reasoning effort: ')}",
            f"tools       {len(agent.tools.tools)} from {', '.join(servers) or 'no server'}",
        ]
    )


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, file=sys.stderr)
