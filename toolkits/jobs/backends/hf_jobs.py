"""Hugging Face Jobs, through huggingface_hub's own client, at ``settings.hf_endpoint``.

The HF token goes to that endpoint only, and into a job only when the caller names HF_TOKEN in
``secrets`` (then as an encrypted job secret). A local script is shipped inside the job's
environment (base64) and decoded by a one-line bash prelude: huggingface_hub's own upload path
needs a storage bucket, which is more than a one-file training script deserves.
"""

from __future__ import annotations

import base64
import contextlib
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.errors import MissingCredentialError, UserError
from toolkits.jobs.backends.base import Backend
from toolkits.jobs.credentials import redact_job_text, resolve_secrets
from toolkits.jobs.hardware import HF_FALLBACK_FLAVORS
from toolkits.jobs.inputs import ResolvedInputs
from toolkits.jobs.logs import LOG_FILE
from toolkits.jobs.models import HardwareReport, HfFlavor, JobRecord, JobUpdate

if TYPE_CHECKING:
    from huggingface_hub import HfApi
    from huggingface_hub._jobs_api import JobInfo

MAX_INLINE_BYTES = 96 * 1024
LIST_THRESHOLD = 3  # refreshing more jobs than this lists them instead of inspecting each
DEFAULT_IMAGE = "ghcr.io/astral-sh/uv:python3.12-bookworm"  # huggingface_hub's uv image
_STAGES = {
    "SCHEDULING": "queued",
    "RUNNING": "running",
    "UPDATING": "running",
    "COMPLETED": "completed",
    "ERROR": "failed",
    "CANCELED": "cancelled",
    "DELETED": "lost",
}
BILLING_URL = "https://huggingface.co/settings/billing"


class HfJobsBackend(Backend):
    name = "hf"
    poll_interval_s = 2.0
    _api_instance: HfApi | None = None
    _whoami: str | None = None

    def _api(self, *, need_token: bool = True) -> HfApi:
        from huggingface_hub import HfApi

        token = self.settings.hf_token
        if token is None:
            if need_token:
                raise MissingCredentialError("HF_TOKEN", "the hf jobs backend")
            # False, not None: never fall back to a token cached on disk for another endpoint.
            return HfApi(endpoint=self.settings.hf_endpoint, token=False)
        if self._api_instance is None:
            self._api_instance = HfApi(
                endpoint=self.settings.hf_endpoint,
                token=token.get_secret_value(),
                library_name="mlintern",
            )
        return self._api_instance

    def _namespace(self, job: JobRecord) -> str:
        chosen = job.handle.get("namespace") or job.spec.namespace
        chosen = chosen or self.settings.hf_jobs_namespace
        if chosen:
            return chosen
        if self._whoami is None:
            with _hf_errors(self.settings.hf_endpoint, "look up the token's user"):
                self._whoami = str(self._api().whoami(cache=True)["name"])
        return self._whoami

    # --- submission -----------------------------------------------------------------------
    def prepare(self, job: JobRecord, inputs: ResolvedInputs) -> JobUpdate:
        self._api()  # no token: say so before anything is recorded
        shipped = [p for p in (inputs.script, inputs.config_file) if p is not None]
        size = sum(p.stat().st_size for p in shipped)
        if size > MAX_INLINE_BYTES:
            raise UserError(
                f"The script and config come to {size // 1024} KB; hf ships local files inline "
                f"up to {MAX_INLINE_BYTES // 1024} KB. Host the script at an https URL (e.g. in "
                "a Hub repo) and pass that URL as script."
            )
        return JobUpdate(hardware=f"hf: {job.spec.flavor or 'cpu-basic'}")

    def start(self, job: JobRecord, inputs: ResolvedInputs) -> JobUpdate:
        spec = job.spec
        api = self._api()
        namespace = self._namespace(job)
        common: dict[str, Any] = {
            "secrets": resolve_secrets(spec.secrets, self.settings) or None,
            "flavor": spec.flavor,
            "timeout": spec.timeout,
            "name": re.sub(r"[^A-Za-z0-9_-]", "-", spec.name) if spec.name else job.job_id,
            "labels": {**spec.labels, "mlintern-job": job.job_id},
            "namespace": namespace,
        }
        env = {**spec.env, "MLINTERN_JOB_ID": job.job_id, "PYTHONUNBUFFERED": "1"}
        with _hf_errors(self.settings.hf_endpoint, "start the job", namespace):
            if inputs.script_url:
                with warnings.catch_warnings():  # run_uv_job is marked experimental
                    warnings.simplefilter("ignore")
                    info = api.run_uv_job(
                        inputs.script_url,
                        script_args=list(spec.script_args),
                        dependencies=list(spec.dependencies) or None,
                        image=spec.image,
                        env=env,
                        **common,
                    )
            else:
                command = _command(job, inputs, env)
                info = api.run_job(
                    image=spec.image or DEFAULT_IMAGE, command=command, env=env, **common
                )
        update = _to_update(info)
        update.handle = {"namespace": namespace}
        return update

    # --- observation ----------------------------------------------------------------------
    def refresh(self, jobs: list[JobRecord]) -> dict[str, JobUpdate]:
        api = self._api()
        remote = [job for job in jobs if job.remote_id]
        listed: dict[str, JobInfo] = {}
        if len(remote) > LIST_THRESHOLD:  # one listing per namespace beats many inspections
            for namespace in {self._namespace(job) for job in remote}:
                with _hf_errors(self.settings.hf_endpoint, "list jobs", namespace):
                    listed |= {info.id: info for info in api.list_jobs(namespace=namespace)}
        updates: dict[str, JobUpdate] = {}
        for job in remote:
            info = listed.get(job.remote_id or "")
            if info is None:
                namespace = self._namespace(job)
                try:
                    with _hf_errors(self.settings.hf_endpoint, "read the job's status", namespace):
                        info = api.inspect_job(job_id=job.remote_id or "", namespace=namespace)
                except _RemoteNotFound:
                    updates[job.job_id] = JobUpdate(
                        status="lost",
                        ended_at=time.time(),
                        message="the job no longer exists on HF",
                    )
                    continue
            updates[job.job_id] = _to_update(info)
        return updates

    def sync_logs(self, job: JobRecord) -> None:
        path = Path(job.job_dir) / LOG_FILE
        if not job.remote_id or (job.is_terminal and job.handle.get("logs_complete")):
            return
        namespace = self._namespace(job)
        with _hf_errors(self.settings.hf_endpoint, "fetch the job's logs", namespace):
            lines = list(
                self._api().fetch_job_logs(job_id=job.remote_id, namespace=namespace, follow=False)
            )
        text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(redact_job_text(text, job.spec.secrets, self.settings))  # at rest too
        tmp.replace(path)  # whole-file replace: readers never see a half-written log
        if job.is_terminal:  # a finished job's log no longer changes: keep the local copy
            with self.jobs.transaction() as conn:
                self.jobs.update(conn, job.job_id, JobUpdate(handle={"logs_complete": True}))

    def cancel(self, job: JobRecord) -> JobUpdate:
        if not job.remote_id:
            return JobUpdate(status="cancelled", ended_at=time.time(), message="cancelled")
        namespace = self._namespace(job)
        api = self._api()
        with _hf_errors(self.settings.hf_endpoint, "cancel the job", namespace):
            api.cancel_job(job_id=job.remote_id, namespace=namespace)
            info = api.inspect_job(job_id=job.remote_id, namespace=namespace)
        update = _to_update(info)
        if update.status in ("queued", "running"):
            update.message = "cancel requested; Hugging Face is stopping the job"
        return update

    def hardware(self) -> HardwareReport:
        try:
            with _hf_errors(self.settings.hf_endpoint, "list the hardware"):
                listed = self._api(need_token=False).list_jobs_hardware()
        except UserError as exc:
            return HardwareReport(
                backend=self.name,
                source="built-in table (prices may be out of date)",
                flavors=HF_FALLBACK_FLAVORS,
                notes=[f"The hardware API could not be asked: {exc}"],
            )
        flavors = []
        for item in listed:
            per_unit = {"second": 3600, "minute": 60, "hour": 1}.get(item.unit_label, 0)
            accelerator = item.accelerator
            flavors.append(
                HfFlavor(
                    name=item.name,
                    pretty_name=item.pretty_name,
                    cpu=item.cpu,
                    ram=item.ram,
                    accelerator=f"{accelerator.quantity}x {accelerator.model} ({accelerator.vram})"
                    if accelerator
                    else None,
                    usd_per_hour=round(item.unit_cost_usd * per_unit, 4) if per_unit else None,
                )
            )
        return HardwareReport(
            backend=self.name,
            source=f"{self.settings.hf_endpoint}/api/jobs/hardware",
            flavors=flavors,
        )


def _command(job: JobRecord, inputs: ResolvedInputs, env: dict[str, str]) -> list[str]:
    """The container command: a bash prelude that unpacks inlined files, then the job."""
    spec = job.spec
    with_deps = [arg for dep in spec.dependencies for arg in ("--with", dep)]
    if inputs.script is None:
        prefix = ["uv", "run", "--no-project", *with_deps] if with_deps else []
        return [*prefix, "bash", "-c", spec.command or ""]
    env["MLINTERN_SCRIPT_B64"] = base64.b64encode(inputs.script.read_bytes()).decode()
    prelude = [
        'dir="$(mktemp -d)"',
        f'printf %s "$MLINTERN_SCRIPT_B64" | base64 -d > "$dir/{inputs.script.name}"',
    ]
    if inputs.config_file is not None:
        env["MLINTERN_CONFIG_B64"] = base64.b64encode(inputs.config_file.read_bytes()).decode()
        prelude += [
            f'printf %s "$MLINTERN_CONFIG_B64" | base64 -d > "$dir/{inputs.config_file.name}"',
            f'export MLINTERN_CONFIG_FILE="$dir/{inputs.config_file.name}"',
        ]
    runner = f"uv run --no-project {' '.join(with_deps)} python" if with_deps else "python"
    prelude.append(f'cd "$dir" && exec {runner} -u "{inputs.script.name}" "$@"')
    return ["bash", "-c", " && ".join(prelude), "mlintern-job", *spec.script_args]


def _to_update(info: JobInfo) -> JobUpdate:
    stage = str(getattr(info.status.stage, "value", info.status.stage))
    status = _STAGES.get(stage, "running")
    message = info.status.message or stage.lower()
    return JobUpdate(
        status=status,  # type: ignore[arg-type]
        remote_id=info.id,
        url=info.url,
        started_at=info.started_at.timestamp() if info.started_at else None,
        ended_at=info.finished_at.timestamp() if info.finished_at else None,
        message=message,
        hardware=f"hf: {getattr(info.flavor, 'value', info.flavor)}" if info.flavor else None,
    )


class _RemoteNotFound(UserError):
    pass


@contextlib.contextmanager
def _hf_errors(endpoint: str, action: str, namespace: str | None = None) -> Iterator[None]:
    """Turn the client's HTTP errors into messages that say what to do."""
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except HfHubHTTPError as exc:
        code = exc.response.status_code if exc.response is not None else None
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = (exc.server_message or (lines[0] if lines else "no detail")).strip()[:300]
        if code == 402:
            raise UserError(
                f"Hugging Face refused to {action}: payment required (402). Add a payment "
                f"method or credits at {BILLING_URL} (for an organisation, its billing page), "
                "or use a cheaper flavor, or backend='local'."
            ) from None
        if code == 401:
            raise UserError(
                f"Hugging Face rejected HF_TOKEN (401) trying to {action}. Create a token with "
                "the 'jobs' permission at https://huggingface.co/settings/tokens and export it "
                "as HF_TOKEN for mlintern-server."
            ) from None
        if code == 403:
            raise UserError(
                f"HF_TOKEN may not {action} in namespace {namespace!r} (403). Pass a namespace "
                "you can run jobs in, or a token with write access to it."
            ) from None
        if code == 404:
            raise _RemoteNotFound(f"Not found on Hugging Face while trying to {action}.") from None
        if code == 429:
            raise UserError(
                "Hugging Face rate-limited us (429): wait a minute, then retry."
            ) from None
        hint = " Flavors and prices: jobs_hardware(backend='hf')." if code == 400 else ""
        raise UserError(f"Hugging Face Jobs could not {action}: {detail}.{hint}") from None
    except httpx.HTTPError as exc:
        raise UserError(
            f"Cannot reach Hugging Face at {endpoint} to {action} ({type(exc).__name__}). "
            "Check the network, or MLINTERN_HF_ENDPOINT."
        ) from None
