"""Checks on a submission that do not depend on the backend, with errors that say what to do.

Paths are resolved once, here, so every backend sees absolute paths that exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from server.errors import NotFoundError, UserError
from server.roots import current as current_roots
from server.settings import Settings
from toolkits.jobs.credentials import check_plain_env
from toolkits.jobs.models import JobSpec

SANDBOX_ID = re.compile(r"^sbx-[A-Za-z0-9_-]{1,64}$")
_HF_ONLY = ("flavor", "image", "namespace")


@dataclass(frozen=True)
class ResolvedInputs:
    """Where things are on this machine. ``script_url`` is set instead of ``script`` for a
    remote script (hf only)."""

    working_dir: Path | None
    script: Path | None
    script_url: str | None
    config_file: Path | None


def is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def sandbox_workspace(settings: Settings, sandbox_id: str) -> Path:
    return settings.home / "sandboxes" / sandbox_id / "workspace"


def resolve_working_dir(settings: Settings, value: str | None) -> Path | None:
    if value is None:
        return None
    if SANDBOX_ID.match(value):
        workspace = sandbox_workspace(settings, value)
        if not workspace.is_dir():
            raise NotFoundError(
                f"No workspace for sandbox {value!r} (expected {workspace}). Check the id with "
                "sandbox_list, create one with sandbox_create, or pass a local directory."
            )
        return workspace
    path = current_roots().check(value, what="working_dir")
    if not path.is_dir():
        raise UserError(
            f"working_dir {value!r} is not a directory on the server ({path}). Pass an existing "
            "directory, or a sandbox_id (sbx-...) to run in that sandbox's workspace."
        )
    return path


def resolve_file(kind: str, value: str, working_dir: Path | None) -> Path:
    raw = Path(value).expanduser()
    path = current_roots().check(
        raw if raw.is_absolute() else (working_dir or Path.cwd()) / raw, what=kind
    )
    if not path.is_file():
        where = f"in working_dir {working_dir}" if working_dir else "from the server's directory"
        raise UserError(
            f"{kind} {value!r} not found (looked for {path}, {where}). Pass an absolute path, "
            f"or set working_dir to the directory that holds it."
        )
    return path


def check_spec(spec: JobSpec) -> None:
    """Combinations that cannot work, whatever the files say."""
    if spec.script and spec.command:
        raise UserError("Give either script or command, not both.")
    if not spec.script and not spec.command:
        raise UserError(
            "Nothing to run: pass script='train.py' (a Python file) or command='...' (a shell "
            "command line)."
        )
    if spec.command and spec.script_args:
        raise UserError("script_args go with script; with command, put the arguments in it.")
    if spec.backend != "hf":
        given = [name for name in _HF_ONLY if getattr(spec, name) is not None]
        if given:
            raise UserError(
                f"{', '.join(given)} only apply to backend='hf'. On {spec.backend!r}, drop them "
                "(use resources={'cpus': ..., 'gpus': ...} to size the job)."
            )
    elif spec.resources is not None:
        raise UserError(
            "On hf, hardware is chosen with flavor (e.g. flavor='a10g-small'), not resources. "
            "See jobs_hardware(backend='hf')."
        )
    if spec.script and is_url(spec.script) and spec.backend != "hf":
        raise UserError(
            f"A script URL only works on backend='hf'. For {spec.backend!r}, download it into "
            "working_dir and pass its path."
        )
    check_plain_env(spec.env)


def resolve_inputs(settings: Settings, spec: JobSpec) -> ResolvedInputs:
    check_spec(spec)
    working_dir = resolve_working_dir(settings, spec.working_dir)
    script: Path | None = None
    script_url: str | None = None
    if spec.script:
        if is_url(spec.script):
            script_url = spec.script
        else:
            script = resolve_file("script", spec.script, working_dir)
    config = (
        resolve_file("config_file", spec.config_file, working_dir) if spec.config_file else None
    )
    return ResolvedInputs(
        working_dir=working_dir, script=script, script_url=script_url, config_file=config
    )
