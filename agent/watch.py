"""``mlintern-agent watch``: supervise a training job on a schedule, without a person watching.

    mlintern-agent watch --job j-1a2b3c4d5e --preferences preferences.md --every 15m

Each tick is one short agent turn over the jobs and experiments tools: judge the job against the
user's preferences.md (experiments_check), restart it with the suggested change when a rule says
so (experiments_restart, which journals the decision), journal what else was decided, and answer
in one line. Watch prints that line, follows the job to its successor after a restart, and stops
by itself when the job and its successors are done. The only calls allowed without a person are
the restart and the journal; anything else that changes things is refused (or needs --yolo).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from server.errors import UserError

TOOLSETS = ["jobs", "experiments"]
ALLOWED_UNASKED = ["experiments_restart", "experiments_journal"]
# A tick that ends like this stops the watch (exit code); any other ending waits for the next.
STOPPING = {"error": 1, "budget": 3, "stuck": 3, "cancelled": 130}

TICK_PROMPT = """\
Scheduled check {tick} of training job {job_id} ({status}{details}).
The user's preferences are in {preferences}; the experiment journal is '{experiment}'.
{history}
Do this, and nothing else:
1. experiments_check(source='{job_id}', preferences='{preferences}').
2. If the verdict's first fired rule calls for a restart (lower_lr, restart or set_config),
   call experiments_restart exactly as the verdict suggests, with experiment='{experiment}'
   (it journals the decision itself).
3. If the job has ended, or a rule fired that you did not act on, record what you saw and
   decided with experiments_journal(experiment='{experiment}', action='append', entry=...).
   While it runs normally, write nothing.
4. Answer with ONE line: what you saw (with numbers) and what you did.
"""


def parse_every(text: str) -> float:
    from agent.spending import parse_duration_s

    seconds = parse_duration_s(text)
    if seconds is None or seconds <= 0:
        raise UserError(f"--every {text!r} is not a duration; write e.g. 30s, 15m, 2h or 900.")
    return seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mlintern-agent watch",
        description="Check a training job against preferences.md on a schedule; restart it "
        "when the preferences say so; journal every decision; stop when it is done.",
    )
    parser.add_argument("--job", required=True, help="The job_id to watch (jobs_submit's)")
    parser.add_argument("--preferences", required=True, help="The user's preferences.md")
    parser.add_argument("--every", default="15m", help="Time between ticks: 30s, 15m, 1h")
    parser.add_argument("--max-ticks", type=int, default=0, help="Stop after N ticks (0: never)")
    parser.add_argument("--model", help="litellm model id")
    parser.add_argument("--api-base", help="OpenAI-compatible endpoint")
    parser.add_argument(
        "--config", help="Agent config JSON (default ~/.config/mlintern/agent.json)"
    )
    parser.add_argument(
        "--max-iterations", type=int, default=12, help="Model calls per tick (default 12)"
    )
    parser.add_argument("--budget-usd", type=float, help="Spending cap for the whole watch")
    parser.add_argument(
        "--yolo", action="store_true", help="Also allow other changing tools without asking"
    )
    parser.add_argument("--log-level", default=os.environ.get("MLINTERN_LOG_LEVEL", "WARNING"))
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Any:
    from agent.config import load_config

    overrides: dict[str, Any] = {
        "model": args.model,
        "api_base": args.api_base,
        "budget_usd": args.budget_usd,
        "limits": {"max_iterations": args.max_iterations, "max_continuation_nudges": 0},
        "bundled": {"enabled": True, "toolsets": TOOLSETS},
    }
    if args.yolo:
        overrides["approvals"] = {"mode": "yolo"}
    config = load_config(args.config, overrides)
    config.mcp_servers = {}  # a tick needs the jobs and experiments tools only
    config.approvals.allow = [*config.approvals.allow, *ALLOWED_UNASKED]
    return config


class JobChain:
    """The watched job's restart chain (toolkits/jobs/chains.py): every tick acts on its newest
    job, so a cron tick started from the first job never forks a finished chain again."""

    def __init__(self, settings: Any, first: str):
        from server.state import StateStore
        from toolkits.jobs.chains import chain_of
        from toolkits.jobs.core import JobService

        self.store = StateStore(settings.state_path)
        self.jobs = JobService(settings, self.store)
        self.first = self.jobs.get(first).job_id  # a wrong id fails now, naming jobs_list
        position = chain_of(self.store, self.first)
        self.current = position.newest
        self.note = position.note("watching") if position.moved else None

    def refresh(self) -> Any:
        return self.jobs.refresh(self.current)

    def follow(self) -> str | None:
        """Move to the newest successor of the current job; returns it, or None."""
        from toolkits.jobs.chains import chain_of

        newest = chain_of(self.store, self.current).newest
        if newest == self.current:
            return None
        self.current = newest
        return newest

    def ids(self) -> list[str]:
        """root → ... → current."""
        from toolkits.jobs.chains import chain_of

        return chain_of(self.store, self.current).job_ids


def journal_name(settings: Any, chain: JobChain, preferences: Path) -> str:
    """The one journal of this experiment: the one preferences.md names (which the verdict's
    suggested restart also uses), else the one experiments_restart would pick for the job."""
    from toolkits.experiments.preferences import load_preferences
    from toolkits.experiments.restart import experiment_for
    from toolkits.experiments.sources.jobs import job_info

    named = load_preferences(str(preferences)).experiment
    if named:
        return named
    return experiment_for(chain.store, chain.jobs, job_info(chain.jobs.get(chain.current)))


def resolve_preferences(path: str) -> Path:
    preferences = Path(path).expanduser().resolve()
    if not preferences.is_file():
        raise UserError(f"--preferences {preferences} does not exist.")
    return preferences


def _details(job: Any) -> str:
    parts = []
    if job.exit_code is not None:
        parts.append(f"exit code {job.exit_code}")
    if job.message:
        parts.append(job.message)
    return (", " + "; ".join(parts)) if parts else ""


def progress_of(chain: JobChain, job: Any) -> str:
    """ "STALLED: ..." or "STUCK: ..." when the job is, else ""."""
    if job.is_terminal:
        return ""
    health = chain.jobs.health(job)
    return "" if health.progress == "ok" else f"{health.progress.upper()}: {health.progress_note}"


def tick_line(
    tick: int, job: Any, answer: str, successor: str | None, done: bool, progress: str = ""
) -> str:
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    said = " ".join((answer or "(no answer)").split())
    line = f"[{stamp}] tick {tick} · {job.job_id} {job.status}"
    line += f" · {progress}" if progress else ""
    if successor:
        line += f" → restarted as {successor}"
    line += f" · {said[:300]}"
    return line + (" · done: nothing left to watch" if done else "")


async def watch(args: argparse.Namespace, config: Any, out: Any = None) -> int:
    from agent.runtime import open_agent
    from server.settings import Settings

    out = out or sys.stdout
    settings = Settings()
    preferences = await asyncio.to_thread(resolve_preferences, args.preferences)
    every = parse_every(args.every)
    chain = await asyncio.to_thread(JobChain, settings, args.job)
    if chain.note:
        print(f"note: {chain.note}", file=out, flush=True)
    experiment = await asyncio.to_thread(journal_name, settings, chain, preferences)
    async with open_agent(config, settings=settings, interactive=False) as agent:
        tick = 0
        while True:
            tick += 1
            job = await asyncio.to_thread(chain.refresh)
            restarts = await asyncio.to_thread(chain.ids)
            history = f"Job chain so far: {' → '.join(restarts)}." if len(restarts) > 1 else ""
            prompt = TICK_PROMPT.format(
                tick=tick,
                job_id=job.job_id,
                status=job.status,
                details=_details(job),
                preferences=preferences,
                experiment=experiment,
                history=history,
            )
            started = time.monotonic()
            result = await agent.run(prompt)
            successor = await asyncio.to_thread(chain.follow)
            latest = await asyncio.to_thread(chain.refresh)
            done = latest.is_terminal  # the job and every successor have ended
            progress = await asyncio.to_thread(progress_of, chain, latest)
            line = tick_line(tick, job, result.final_text, successor, done, progress)
            print(line, file=out, flush=True)
            if result.reason in STOPPING:
                return STOPPING[result.reason]
            if done:
                gained = await asyncio.to_thread(journal_gains, settings, chain, experiment)
                if gained:
                    print(f"interventions: {gained}", file=out, flush=True)
                return 0
            if args.max_ticks and tick >= args.max_ticks:
                return 0
            wait = max(0.0, every - (time.monotonic() - started))
            due = datetime.now() + timedelta(seconds=wait)
            # On stderr: stdout stays one line per tick for whoever parses it.
            print(f"next tick at {due:%Y-%m-%d %H:%M:%S} (in {wait:.0f}s)", file=sys.stderr)
            await asyncio.sleep(wait)


def journal_gains(settings: Any, chain: JobChain, experiment: str) -> str | None:
    """When a restarted chain has ended: what its restarts gained, as the journal's last entry
    (the metric before and after each change, wall time and cost, better than the first run?)."""
    from toolkits.experiments import journal
    from toolkits.experiments.gains import gain_numbers, gains_so_far

    gains = gains_so_far(settings, chain.store, chain.current)
    if gains is None or len(gains.job_ids) < 2:
        return None
    ended = {True: "better than", False: "no better than", None: "not comparable with"}
    entry = journal.JournalInput(
        observation=gains.render()[:4000],
        decision=f"the chain ended {ended[gains.better_than_first]} its first run",
        action="watch: every job of the chain has ended; nothing left to watch",
        job_ids=gains.job_ids[-20:],
        numbers=gain_numbers(gains),
    )
    # Next to the restarts' own entries, wherever they were journaled; once (cron watches
    # that find the chain over again print the line but add nothing).
    name = journal.experiment_of_job(chain.store, chain.current) or experiment
    last = journal.last_entry(chain.store, name)
    if last is None or (last.action, last.job_ids) != (entry.action, entry.job_ids):
        journal.append(settings, chain.store, name, entry)
    return gains.line()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
    os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    try:
        from agent.cli import require_provider_key

        config = build_config(args)
        require_provider_key(config)
        return asyncio.run(watch(args, config))
    except UserError as exc:
        print(f"mlintern-agent watch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
