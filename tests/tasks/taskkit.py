"""Helpers for the delegation tests: an agent config aimed at the scripted LLM, a dialogue whose
replies may depend on what the tools answered (job ids are minted at run time), and an
mlintern-server subprocess over HTTP.

The LLM is always tests/fakes/llm.py reached through litellm's real code path; the tools are the
real mlintern toolkits.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.llm import Reply, ScriptedLLM
from fastmcp import Client
from helpers import REPO, free_port, running, server_cmd, test_env, wait_for_http
from mcp.types import TextContent

TRAIN = REPO / "examples" / "train.py"
PREFERENCES = REPO / "examples" / "preferences.md"
JOB_ID = re.compile(r"\bj-[0-9a-f]{10}\b")

Step = Reply | Callable[[dict[str, Any]], Reply]


def write_agent_config(path: Path, llm: ScriptedLLM, **extra: Any) -> Path:
    """The operator's agent config: the scripted model, fast retries, plus ``extra`` keys."""
    config: dict[str, Any] = {
        "model": "openai/scripted",
        "api_base": llm.api_base,
        "limits": {"transient_backoff_s": [0.01], "rate_limit_backoff_s": [0.01]},
        **extra,
    }
    path.write_text(json.dumps(config))
    return path


def tool_results(body: dict[str, Any]) -> list[str]:
    return [str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "tool"]


def last_tool_result(body: dict[str, Any]) -> str:
    results = tool_results(body)
    return results[-1] if results else ""


def job_ids(text: str) -> list[str]:
    return list(dict.fromkeys(JOB_ID.findall(text)))


class Dialogue:
    """The model's side of one conversation, step by step, served as a route of the scripted LLM.

    A step is a ``Reply`` or a function of the request that returns one (to use an id a tool
    just returned). A request after the last step is a failure, like an unexpected request to
    the plain script; ``check`` fails when steps were left unused.
    """

    def __init__(self, llm: ScriptedLLM, steps: list[Step], name: str = "dialogue"):
        self.llm = llm
        self.steps = list(steps)
        self.served = 0
        llm.route(name, lambda body: True, self._respond, min_calls=len(steps))

    def _respond(self, body: dict[str, Any]) -> Reply:
        if self.served >= len(self.steps):
            self.llm.problems.append(f"dialogue: unexpected request #{self.served + 1}")
            return Reply(status=400, error_message="dialogue used up", label="unexpected")
        step = self.steps[self.served]
        self.served += 1
        try:
            return step(body) if callable(step) else step
        except Exception as exc:  # a failed expectation inside a step: report, do not hang
            self.llm.problems.append(f"dialogue step {self.served}: {exc!r}")
            return Reply(status=400, error_message=f"step failed: {exc}", label="failed step")

    def check(self) -> None:
        assert self.served == len(self.steps), f"dialogue used {self.served}/{len(self.steps)}"


def expect_in_last_result(*needles: str) -> Callable[[dict[str, Any]], bool | str]:
    def check(body: dict[str, Any]) -> bool | str:
        text = last_tool_result(body)
        missing = [n for n in needles if n not in text]
        return not missing or f"last tool result lacks {missing}: {text[:400]!r}"

    return check


@contextlib.contextmanager
def http_server(home: Path, toolsets: str, **env: str) -> Iterator[tuple[str, Any]]:
    """``mlintern-server --transport http`` on a free loopback port; yields (url, process)."""
    port = free_port()
    cmd = server_cmd("--transport", "http", "--port", str(port), "--toolsets", toolsets)
    environment = test_env(home, LITELLM_LOCAL_MODEL_COST_MAP="True", **env)
    with running(cmd, environment, stderr=sys.stderr) as proc:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
        yield f"http://127.0.0.1:{port}/mcp", proc


class ApprovalDesk:
    """A host's elicitation handler: answers approval forms in order and keeps what it saw."""

    def __init__(self, *answers: dict[str, Any]):
        self.answers = list(answers)
        self.messages: list[str] = []

    async def __call__(self, message: str, response_type: Any, params: Any, context: Any) -> Any:
        self.messages.append(message)
        return self.answers.pop(0) if self.answers else {"approve": False, "feedback": "no"}


class ProgressLog:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.messages.append(message or "")


@dataclass
class Answer:
    """A tool's result as a host sees it: the structured content and the text rendering."""

    data: dict[str, Any]
    text: str


async def use(c: Client, tool: str, **arguments: Any) -> Answer:
    result = await c.call_tool(tool, arguments)
    assert result.structured_content is not None, f"{tool} returned no structured content"
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    return Answer(result.structured_content, "\n".join(texts))
