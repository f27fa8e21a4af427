"""The data of the jobs toolkit: what a submission asks for and what the store remembers.

``JobSpec`` is the one definition of a submission: jobs_submit and jobs_preflight publish its
fields as their parameters (server/model_params.py), so their descriptions are written for a
model and kept short (every host pays for them on every request).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from toolkits.jobs.backends import BACKENDS


def _known_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; use one of: {', '.join(BACKENDS)}")
    return name


# A checked string rather than a Literal, so that registering a backend is one line in
# backends/__init__.py; the schema still lists the choices.
BackendName = Annotated[
    str,
    AfterValidator(_known_backend),
    Field(
        max_length=32,
        json_schema_extra={"enum": list(BACKENDS)},
    ),
]
JobStatus = Literal["queued", "running", "completed", "failed", "cancelled", "lost"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled", "lost"})
ACTIVE_STATUSES: frozenset[str] = frozenset({"queued", "running"})

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Hugging Face Jobs accepts only these characters in label keys and values; using the same rule
# for every backend keeps labels portable between them.
LABEL_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_TIMEOUT_S = 7 * 24 * 3600

EnvName = Annotated[str, Field(min_length=1, max_length=100, pattern=ENV_NAME_PATTERN)]
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=LABEL_PATTERN)]

Script = Annotated[
    str | None,
    Field(
        max_length=2000,
        description="Python file (or https URL on hf).",
    ),
]
Command = Annotated[
    str | None,
    Field(
        max_length=8000,
    ),
]
ScriptArgs = Annotated[
    list[Annotated[str, Field(max_length=2000)]],
    Field(max_length=200),
]
Dependencies = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]],
    Field(
        max_length=50,
        description="pip requirements.",
    ),
]
WorkingDir = Annotated[
    str | None,
    Field(
        max_length=2000,
        description="Or a sandbox_id.",
    ),
]
ConfigFile = Annotated[
    str | None,
    Field(
        max_length=2000,
        description="Passed as $MLINTERN_CONFIG_FILE.",
    ),
]
Env = Annotated[
    dict[EnvName, Annotated[str, Field(max_length=8000)]],
    Field(
        max_length=50,
        description="No credentials.",
    ),
]
Secrets = Annotated[
    list[EnvName],
    Field(
        max_length=20,
        description="Server variable names, e.g. HF_TOKEN.",
    ),
]
Flavor = Annotated[
    str | None,
    Field(
        max_length=64,
        pattern=r"^[a-z0-9-]+$",
        description="hf hardware; see jobs_hardware.",
    ),
]
Image = Annotated[
    str | None,
    Field(
        max_length=300,
        description="hf only.",
    ),
]
Timeout = Annotated[
    int | None,
    Field(
        ge=1,
        le=MAX_TIMEOUT_S,
        description="Seconds.",
    ),
]
JobName = Annotated[str | None, Field(max_length=100)]
Labels = Annotated[
    dict[Label, Label],
    Field(max_length=20),
]
Namespace = Annotated[
    str | None,
    Field(
        max_length=96,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="hf: who pays.",
    ),
]


class Resources(BaseModel):
    """Compute a job asks for (ray, local). On hf, pick a flavor instead."""

    cpus: float | None = Field(default=None, gt=0, le=1024)
    gpus: float | None = Field(default=None, ge=0, le=64)
    memory_gb: float | None = Field(default=None, gt=0, le=4096)

    def describe(self) -> str:
        parts = []
        if self.cpus is not None:
            parts.append(f"{self.cpus:g} CPU")
        if self.gpus:
            parts.append(f"{self.gpus:g} GPU")
        if self.memory_gb is not None:
            parts.append(f"{self.memory_gb:g} GB")
        return ", ".join(parts) or "no explicit resources"


class JobSpec(BaseModel):
    """Everything jobs_submit accepts. Stored with the job (secret *names* only, never values)."""

    backend: BackendName = "local"
    script: Script = None
    command: Command = None
    script_args: ScriptArgs = Field(default_factory=list)
    dependencies: Dependencies = Field(default_factory=list)
    working_dir: WorkingDir = None
    config_file: ConfigFile = None
    env: Env = Field(default_factory=dict)
    secrets: Secrets = Field(default_factory=list)
    flavor: Flavor = None
    resources: Annotated[Resources | None, Field(description="local/ray.")] = None
    image: Image = None
    timeout: Timeout = None
    name: JobName = None
    labels: Labels = Field(default_factory=dict)
    namespace: Namespace = None


class JobRecord(BaseModel):
    """One job as the store knows it. Times are seconds since the epoch."""

    job_id: str
    backend: BackendName
    status: JobStatus
    spec: JobSpec
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    message: str | None = Field(default=None, description="Why the job is in its status.")
    job_dir: str
    log_dir: str | None = None
    parent_job_id: str | None = None
    url: str | None = None
    remote_id: str | None = None
    working_dir: str | None = Field(default=None, description="Where the job runs (resolved).")
    hardware: str | None = None
    cancel_requested: bool = False
    # Backend bookkeeping (local: runner pid and its start time; hf: namespace). Never shown.
    handle: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @property
    def name(self) -> str | None:
        return self.spec.name

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class JobUpdate(BaseModel):
    """What a backend learned about a job; ``None`` fields leave the record unchanged."""

    status: JobStatus | None = None
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    message: str | None = None
    url: str | None = None
    remote_id: str | None = None
    working_dir: str | None = None
    hardware: str | None = None
    handle: dict[str, Any] | None = None


class Health(BaseModel):
    """Cheap signs of life, so a model need not read the log to know a job is progressing."""

    process_alive: bool | None = Field(
        default=None, description="Local: the job's processes exist. None when not observable."
    )
    last_log_at: float | None = Field(default=None, description="When the log last grew.")
    last_log_line: str | None = None
    last_metric_step: int | None = Field(
        default=None, description="Highest step in the job's TensorBoard/trackio/JSONL metrics."
    )
    last_metric_at: float | None = None
    metric_source: str | None = Field(default=None, description="tensorboard, trackio or jsonl.")
    metrics_dir: str | None = None
    idle_s: float | None = Field(
        default=None, description="Seconds since the last log line or metric, while running."
    )
    progress: Literal["ok", "stalled", "stuck"] = Field(
        default="ok", description="stalled: alive but silent too long; stuck: queued too long."
    )
    progress_note: str | None = Field(default=None, description="Why, with the numbers.")


class LogsPage(BaseModel):
    """A window of a job's log. Offsets are byte positions in the raw log file."""

    job_id: str
    status: JobStatus
    text: str
    lines: int = Field(description="Lines in this window.")
    offset: int = Field(description="Byte offset of the first line returned.")
    next_offset: int = Field(
        description="Pass as offset to read on from here (also to follow a running job)."
    )
    log_size: int = Field(description="Bytes in the log when it was read.")
    truncated: bool = Field(description="True when more log follows next_offset already.")
    collapsed: int = Field(default=0, description="Noise lines (progress bars) collapsed.")
    hint: str | None = None


class HfFlavor(BaseModel):
    """One hardware flavor of Hugging Face Jobs."""

    name: str
    pretty_name: str | None = None
    cpu: str | None = None
    ram: str | None = None
    accelerator: str | None = None
    usd_per_hour: float | None = None


class GpuInfo(BaseModel):
    name: str
    memory_gb: float | None = None


class HardwareReport(BaseModel):
    """What a backend can run on."""

    backend: BackendName
    source: str = Field(description="Where the figures come from.")
    cpus: float | None = None
    memory_gb: float | None = None
    memory_available_gb: float | None = None
    gpus: list[GpuInfo] = Field(default_factory=list)
    flavors: list[HfFlavor] = Field(default_factory=list)
    nodes: int | None = None
    resources: dict[str, float] = Field(default_factory=dict)
    running_jobs: int | None = None
    max_concurrent: int | None = None
    notes: list[str] = Field(default_factory=list)
