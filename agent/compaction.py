"""Compaction and message hygiene as pure functions over OpenAI-style message lists.

Nothing here calls a model: ``plan_compaction`` decides what to keep, ``extract_facts`` pulls
the handles a run cannot lose (job, sandbox, run, plan and repo ids, files, the plan) out of the
part that will be summarised, and ``apply_compaction`` splices a note in. The one model call —
the summary of the middle — is made by the caller with ``summariser_messages``. Keeping the
handles mechanical means a forgetful summariser cannot make the agent lose its job id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from server.output_caps import cap_text

Message = dict[str, Any]

# Messages the agent itself injects (summaries, nudges) start with this, so later passes can
# tell them from what the user typed.
AGENT_MARK = "[mlintern]"
SUMMARY_HEADING = f"{AGENT_MARK} Compacted context"
HANDLE_KEYS = ("job_id", "sandbox_id", "run_id", "plan_id", "repo_id", "parent_job_id")
FILE_KEYS = (
    "path",
    "file",
    "filename",
    "script",
    "config_file",
    "local_path",
    "output_path",
    "src",
    "dst",
)
MAX_PER_KIND = 15
_HANDLE_IN_TEXT = re.compile(
    r"\b(" + "|".join(HANDLE_KEYS) + r")[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9][A-Za-z0-9._:/-]{0,95})"
)
_SANDBOX_TOKEN = re.compile(r"\bsbx-[A-Za-z0-9]{3,}\b")
_NOTE_LINE = re.compile(r"^- (\w+): (.+)$")


def estimate_tokens(messages: list[Message]) -> int:
    """The messages' tokens as sent (cl100k over their JSON), used between provider counts."""
    from agent.tokens import count_message_tokens

    return count_message_tokens(messages)


@dataclass
class CompactionPlan:
    head: list[Message]  # system prompt(s) and the task
    middle: list[Message]  # summarised
    recent: list[Message]  # kept verbatim, tool calls with their results


def plan_compaction(messages: list[Message], keep_recent_turns: int) -> CompactionPlan | None:
    """Split ``messages``; None when there is nothing between the task and the recent turns."""
    start = 0
    while start < len(messages) and messages[start].get("role") == "system":
        start += 1
    if start < len(messages) and messages[start].get("role") == "user":
        start += 1
    # A turn begins at an assistant or user message; tool results belong to the assistant
    # message before them, so a cut at a turn start never separates a call from its result.
    turn_starts = [i for i in range(start, len(messages)) if messages[i].get("role") != "tool"]
    if len(turn_starts) <= keep_recent_turns:
        return None
    cut = turn_starts[-keep_recent_turns]
    if cut <= start:
        return None
    return CompactionPlan(messages[:start], messages[start:cut], messages[cut:])


@dataclass
class Facts:
    handles: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    plan: str | None = None
    tools_used: dict[str, int] = field(default_factory=dict)
    latest_request: str | None = None

    def add_handle(self, kind: str, value: str) -> None:
        _append_unique(self.handles.setdefault(kind, []), value.rstrip(".,;"))

    def add_file(self, value: str) -> None:
        _append_unique(self.files, value)


def _append_unique(items: list[str], value: str) -> None:
    if not value:
        return
    if value in items:
        items.remove(value)  # move to the end: the most recent mention wins the cap
    items.append(value)


def extract_facts(messages: list[Message], plan_tools: Collection[str] = ()) -> Facts:
    """The handles, files, plan and latest user request found in ``messages``; the plan is the
    latest result of one of ``plan_tools`` (the tools that declare a plan role)."""
    facts = Facts()
    call_names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        content = _content_text(message)
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                name = call.get("function", {}).get("name", "")
                call_names[call.get("id", "")] = name
                facts.tools_used[name] = facts.tools_used.get(name, 0) + 1
                _facts_from_arguments(call.get("function", {}).get("arguments", ""), facts)
        if role == "user" and content.startswith(SUMMARY_HEADING):
            _facts_from_note(content, facts)
            continue
        if role == "user" and not content.startswith(AGENT_MARK):
            facts.latest_request = content
        if role == "tool":
            name = call_names.get(message.get("tool_call_id", ""), "")
            if name in plan_tools and not content.startswith("Error"):
                facts.plan = content
        for kind, value in _HANDLE_IN_TEXT.findall(content):
            facts.add_handle(kind, value)
        for token in _SANDBOX_TOKEN.findall(content):
            facts.add_handle("sandbox_id", token)
    for kind in facts.handles:
        facts.handles[kind] = facts.handles[kind][-MAX_PER_KIND:]
    facts.files = facts.files[-MAX_PER_KIND:]
    return facts


def _facts_from_arguments(arguments: str, facts: Facts) -> None:
    try:
        parsed = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        return
    if not isinstance(parsed, dict):
        return
    for key, value in parsed.items():
        if isinstance(value, str) and key in HANDLE_KEYS:
            facts.add_handle(key, value)
        elif isinstance(value, str) and key in FILE_KEYS:
            facts.add_file(value)


def _facts_from_note(note: str, facts: Facts) -> None:
    section = ""
    plan_lines: list[str] = []
    for line in note.splitlines():
        if line.startswith("## "):
            section = line[3:].strip().lower()
            continue
        if section == "handles":
            match = _NOTE_LINE.match(line)
            if match and match.group(1) == "files":
                for value in match.group(2).split(", "):
                    facts.add_file(value)
            elif match:
                for value in match.group(2).split(", "):
                    facts.add_handle(match.group(1), value)
        elif section == "plan" and line.strip():
            plan_lines.append(line)
        elif section == "latest request" and line.strip():
            facts.latest_request = line
    if plan_lines:
        facts.plan = "\n".join(plan_lines)


def render_note(summary: str, facts: Facts, summarised: int) -> str:
    lines = [
        f"{SUMMARY_HEADING}: {summarised} earlier messages were summarised to stay within the "
        "model's context window. The ids below are verbatim from tool results; use them.",
        "",
        "## Summary",
        summary.strip() or "(no summary available)",
        "",
        "## Handles",
    ]
    if not facts.handles and not facts.files:
        lines.append("- none: no ids or files seen yet")
    lines += [f"- {kind}: {', '.join(values)}" for kind, values in facts.handles.items() if values]
    if facts.files:
        lines.append(f"- files: {', '.join(facts.files)}")
    if facts.tools_used:
        used = ", ".join(f"{name}×{count}" for name, count in facts.tools_used.items())
        lines += ["", f"Tools used in the summarised part: {used}"]
    if facts.plan:
        lines += ["", "## Plan", cap_text(facts.plan, 2000)]
    if facts.latest_request:
        lines += ["", "## Latest request", cap_text(" ".join(facts.latest_request.split()), 1000)]
    return "\n".join(lines)


def apply_compaction(plan: CompactionPlan, note: str) -> list[Message]:
    return [*plan.head, {"role": "user", "content": note}, *plan.recent]


def summariser_messages(middle: list[Message], prompt: str, budget_chars: int) -> list[Message]:
    """The request that asks a model to summarise ``middle`` (a transcript, no tool schema)."""
    per_item = max(300, budget_chars // max(1, len(middle)) * 2)
    lines: list[str] = []
    names: dict[str, str] = {}
    for message in middle:
        role = message.get("role", "")
        text = cap_text(_content_text(message), per_item)
        if role == "assistant":
            if text:
                lines.append(f"ASSISTANT: {text}")
            for call in message.get("tool_calls") or []:
                function = call.get("function", {})
                names[call.get("id", "")] = function.get("name", "")
                lines.append(
                    f"CALL {function.get('name')}({cap_text(function.get('arguments', ''), 600)})"
                )
        elif role == "tool":
            lines.append(f"RESULT of {names.get(message.get('tool_call_id', ''), 'tool')}: {text}")
        else:
            lines.append(f"{role.upper()}: {text}")
    transcript = cap_text("\n".join(lines), budget_chars, "middle of the transcript omitted")
    return [
        {"role": "system", "content": prompt},
        {"role": "user", "content": f"Transcript to summarise:\n\n{transcript}"},
    ]


def repair_tool_pairs(
    messages: list[Message], stub: Callable[[str, str], str]
) -> tuple[list[Message], int]:
    """Give every tool call a result and drop results that answer no call.

    Providers refuse a history where an assistant's tool call has no matching tool message (an
    interrupted turn, a crash) or where a tool message answers nothing (after a bad cut).
    ``stub(call_id, tool_name)`` writes the result for a call that never got one.
    """
    repaired: list[Message] = []
    pending: dict[str, str] = {}
    fixes = 0

    def close_block() -> None:
        nonlocal fixes
        for call_id, name in pending.items():
            repaired.append(
                {"role": "tool", "tool_call_id": call_id, "content": stub(call_id, name)}
            )
            fixes += 1
        pending.clear()

    for message in messages:
        if message.get("role") == "tool":
            call_id = message.get("tool_call_id", "")
            if call_id in pending:
                pending.pop(call_id)
                repaired.append(message)
            else:
                fixes += 1  # an orphan result: dropped
            continue
        close_block()
        repaired.append(message)
        if message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                pending[call.get("id", "")] = call.get("function", {}).get("name", "")
    close_block()
    return repaired, fixes


def unanswered_calls(messages: list[Message]) -> list[dict[str, Any]]:
    """Tool calls of the last assistant message that have no result yet."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "assistant":
            answered = {
                m.get("tool_call_id") for m in messages[index + 1 :] if m.get("role") == "tool"
            }
            return [c for c in message.get("tool_calls") or [] if c.get("id") not in answered]
        if message.get("role") != "tool":
            return []
    return []


def shrink_tool_results(messages: list[Message], max_chars: int) -> list[Message]:
    """Cut every tool result in ``messages`` to ``max_chars`` (last resort when turns are huge)."""
    shrunk = []
    for message in messages:
        if message.get("role") == "tool" and len(_content_text(message)) > max_chars:
            message = {
                **message,
                "content": cap_text(_content_text(message), max_chars, "cut during compaction"),
            }
        shrunk.append(message)
    return shrunk


def _content_text(message: Message) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)
