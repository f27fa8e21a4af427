"""``mlintern-agent``: run a task headless, or talk to the agent interactively.

Exit codes (headless): 0 the task completed; 1 the run failed (the LLM or a server kept
failing, or a bug, reported with its traceback); 2 bad usage or configuration; 3 stopped at a
limit (--max-iterations, or the spending cap); 4 paused waiting for an approval; 130 cancelled
with Ctrl+C. The session is saved in every case and ``--resume ID`` continues it.
``mlintern-agent watch --job ID --preferences preferences.md`` supervises a job (agent/watch.py);
``mlintern-agent share SESSION`` uploads a session's trace to a private HF dataset (agent/share.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import traceback
from typing import Any

from server.crash_guards import collect_garbage_between_steps, trace_crashes

EXIT_CODES = {
    "completed": 0,
    "error": 1,
    "max_iterations": 3,
    "budget": 3,
    "stuck": 3,
    "awaiting_approval": 4,
    "cancelled": 130,
}
USAGE_ERROR = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mlintern-agent",
        description="An ML engineer agent over MCP tools. With a prompt it runs headless "
        "(answer on stdout, tool activity on stderr); without one it is interactive.",
        epilog="Supervise a training job on a schedule: mlintern-agent watch --job JOB_ID "
        "--preferences preferences.md --every 15m (see mlintern-agent watch --help). Share a "
        "session privately on the Hub: mlintern-agent share SESSION_ID.",
    )
    parser.add_argument("prompt", nargs="?", help="The task. Omit for an interactive session.")
    parser.add_argument(
        "--model",
        help="litellm model id, e.g. anthropic/claude-sonnet-4-5, openai/gpt-4o, hosted_vllm/qwen",
    )
    parser.add_argument(
        "--api-base", help="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, LM Studio)"
    )
    parser.add_argument("--max-iterations", type=int, help="Stop after this many model calls")
    parser.add_argument(
        "--effort",
        choices=["low", "medium", "high"],
        help="Reasoning effort for models that think (dropped for a model that refuses it)",
    )
    parser.add_argument(
        "--config", help="Agent config JSON (default ~/.config/mlintern/agent.json)"
    )
    parser.add_argument(
        "--yolo",
        action="store_true",
        help="Approve every tool call (the spending cap still applies)",
    )
    parser.add_argument(
        "--approve",
        action="append",
        default=[],
        metavar="PATTERN",
        help="Approve tools matching PATTERN (e.g. 'jobs_*'); repeatable",
    )
    parser.add_argument(
        "--budget-usd", type=float, help="Spending cap: LLM cost plus estimated job cost"
    )
    parser.add_argument("--resume", metavar="ID", help="Continue a saved session")
    parser.add_argument(
        "--no-stream",
        action="store_true",
        help="Print the answer when complete instead of streaming it",
    )
    parser.add_argument(
        "--json", action="store_true", help="Print events as JSON lines on stdout (headless)"
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="With --resume and no prompt: continue where the session stopped, then exit",
    )
    parser.add_argument("--toolsets", help="Toolkits of the bundled server, comma-separated")
    parser.add_argument("--log-level", default=os.environ.get("MLINTERN_LOG_LEVEL", "WARNING"))
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Any:
    from agent.config import load_config

    overrides: dict[str, Any] = {
        "model": args.model,
        "api_base": args.api_base,
        "budget_usd": args.budget_usd,
        "reasoning_effort": args.effort,
    }
    if args.no_stream:
        overrides["stream"] = False
    if args.max_iterations is not None:
        overrides["limits"] = {"max_iterations": args.max_iterations}
    if args.yolo:
        overrides["approvals"] = {"mode": "yolo"}
    if args.toolsets:
        overrides["bundled"] = {
            "toolsets": [t.strip() for t in args.toolsets.split(",") if t.strip()]
        }
    config = load_config(args.config, overrides)
    config.approvals.allow = [*config.approvals.allow, *args.approve]
    return config


async def run_headless(args: argparse.Namespace, config: Any) -> int:
    from agent.render import JsonRenderer, TerminalRenderer
    from agent.runtime import open_agent
    from server.errors import UserError

    renderer = JsonRenderer() if args.json else TerminalRenderer()
    async with open_agent(config, emit=renderer, interactive=False, resume=args.resume) as agent:
        if not args.json:  # with --json, stderr stays empty unless something breaks
            print(agent.model.window().describe(agent.model.model), file=sys.stderr)
        if args.prompt is None and not _has_work_left(agent.context.messages):
            raise UserError(
                f"Session {args.resume} has finished its last request; give a prompt to continue it."
            )
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, _cancel_then_exit, agent)
        try:
            result = await agent.run(args.prompt)
        finally:
            loop.remove_signal_handler(signal.SIGINT)
    await _share_at_end(config, agent.session_id)
    return EXIT_CODES[result.reason]


async def _share_at_end(config: Any, session_id: str | None) -> None:
    from agent.share import share_at_session_end
    from server.settings import Settings

    await asyncio.to_thread(share_at_session_end, config, session_id, Settings().home)


def _cancel_then_exit(agent: Any) -> None:
    # First Ctrl+C: cancel the turn cleanly. A second one, if the cleanup hangs: leave now.
    if not agent.cancel():
        os._exit(130)


def _has_work_left(messages: list[dict[str, Any]]) -> bool:
    if not messages:
        return False
    last = messages[-1]
    return last.get("role") != "assistant" or bool(last.get("tool_calls"))


async def run_interactive(args: argparse.Namespace, config: Any) -> int:
    from agent.interactive import ResumeRequest, repl, stderr_console, terminal_approver
    from agent.render import TerminalRenderer
    from agent.runtime import open_agent
    from agent.sessions import SessionStore
    from server.settings import Settings

    console = stderr_console()
    store = SessionStore(Settings().home)
    resume = args.resume
    while True:
        async with open_agent(
            config,
            emit=TerminalRenderer(),
            approver=terminal_approver(console),
            interactive=True,
            resume=resume,
        ) as agent:
            print(agent.model.window().describe(agent.model.model), file=sys.stderr)
            outcome = await repl(agent, store, console)
        await _share_at_end(config, agent.session_id)
        if not isinstance(outcome, ResumeRequest):
            return 0
        resume = outcome.session_id


def require_provider_key(config: Any) -> None:
    from agent.llm_errors import missing_key_message
    from server.errors import UserError

    message = missing_key_message(config.model, config.api_base, config.api_key)
    if message:
        raise UserError(message)


def main(argv: list[str] | None = None) -> int:
    trace_crashes()
    collect_garbage_between_steps()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["watch"]:  # `mlintern-agent watch ...`: scheduled supervision of a job
        from agent.watch import main as watch_main

        return watch_main(argv[1:])
    if argv[:1] == ["share"]:  # `mlintern-agent share SESSION`: upload a trace, privately
        from agent.share import main as share_main

        return share_main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # stdout carries the answer (or JSON events): no banner, no update check from fastmcp.
    os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    from server.errors import UserError

    try:
        config = build_config(args)
        require_provider_key(config)
        if args.headless and not args.resume and args.prompt is None:
            raise UserError(
                "--headless without a prompt needs --resume ID (a session to continue)."
            )
        if args.prompt is not None or args.headless:
            return asyncio.run(run_headless(args, config))
        if args.json:
            raise UserError("--json needs a prompt, or --resume ID --headless.")
        return asyncio.run(run_interactive(args, config))
    except UserError as exc:
        print(f"mlintern-agent: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc()
        print("mlintern-agent: internal error (a bug); the traceback is above.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
