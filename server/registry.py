"""The single list of toolkits. Adding a toolkit = one module under toolkits/ + one line here.

Entries name a module path (imported only when that toolkit is mounted) and say, for the model,
what the toolkit is for; the server's instructions are assembled from these sentences.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ToolkitEntry:
    module: str
    purpose: str
    # None: tools are prefixed with the registry name; "": tools keep their own names.
    namespace: str | None = None


TOOLKITS: dict[str, ToolkitEntry] = {
    "plan": ToolkitEntry(
        "toolkits.plan", "keep a visible todo plan for multi-step work (plan_update, plan_get)"
    ),
    "hub": ToolkitEntry(
        "toolkits.hub",
        "search the Hugging Face Hub and read model, dataset and Space repositories (details, "
        "files, file contents); with HF_TOKEN, create repositories and upload or delete files",
    ),
    "datasets": ToolkitEntry(
        "toolkits.datasets",
        "look inside Hub or local datasets before using them (splits, schema, counts, samples, "
        "column statistics, chat format) and query them with read-only SQL",
    ),
    "github": ToolkitEntry(
        "toolkits.github",
        "find and read example code on GitHub: search code, rank a repository's example files, "
        "list an owner's repositories, read files and notebooks",
    ),
    "papers": ToolkitEntry(
        "toolkits.papers",
        "find ML papers and read their recipes: search, daily trending, details with section "
        "text and linked Hub models/datasets, references and citations",
    ),
    "docs": ToolkitEntry(
        "toolkits.docs", "search Hugging Face documentation and read its pages as markdown"
    ),
    "sandbox": ToolkitEntry(
        "toolkits.sandbox",
        "try code safely in isolated sandboxes (local bubblewrap by default, E2B in the cloud): "
        "write files, run bash or Python under memory/CPU/time limits, read and edit results",
    ),
    "jobs": ToolkitEntry(
        "toolkits.jobs",
        "run training jobs that outlive the conversation (locally, on Hugging Face Jobs or a "
        "Ray cluster): preflight, submit, status with health (and waiting), logs, list, cancel, "
        "hardware",
    ),
    "experiments": ToolkitEntry(
        "toolkits.experiments",
        "watch training runs without a person: read metrics (TensorBoard, trackio, JSONL/CSV, "
        "job ids) and plot them, judge them against the user's preferences.md, compare, restart a job "
        "with a changed config, and keep a journal of every decision",
    ),
    "tasks": ToolkitEntry(
        "toolkits.tasks",
        "hand a whole ML task to mlintern's own agent and get a report (run_ml_task; detached "
        "runs: ml_task with action status, approve or cancel), or get a cited answer from a "
        "read-only research sub-agent (research)",
        namespace="",
    ),
}
