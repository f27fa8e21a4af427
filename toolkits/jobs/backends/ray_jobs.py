"""Ray Jobs: the Jobs API of the cluster whose dashboard is at ``settings.ray_address``.

The working directory is uploaded by Ray (runtime_env ``working_dir``); without one, the script
and config file are copied into a staging directory under the job dir and that is uploaded, so
an unrelated parent directory never is.
"""

from __future__ import annotations

import shlex
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.errors import UserError
from server.extras import require
from toolkits.jobs.backends.base import Backend
from toolkits.jobs.credentials import redact_job_text, resolve_secrets
from toolkits.jobs.inputs import ResolvedInputs
from toolkits.jobs.logs import LOG_FILE
from toolkits.jobs.models import HardwareReport, JobRecord, JobUpdate

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

_STATUSES = {
    "PENDING": "queued",
    "RUNNING": "running",
    "SUCCEEDED": "completed",
    "FAILED": "failed",
    "STOPPED": "cancelled",
}
# Seconds Ray's stop gives a job between SIGTERM and SIGKILL, before we check on it again.
_STOP_SETTLE_S = 5.0


class RayJobsBackend(Backend):
    name = "ray"
    poll_interval_s = 1.0
    _client_instance: JobSubmissionClient | None = None

    def _client(self) -> JobSubmissionClient:
        if self._client_instance is None:
            job_submission = require("ray.job_submission", "The ray backend")
            address = self.settings.ray_address
            try:
                client: JobSubmissionClient = job_submission.JobSubmissionClient(address)
                self._client_instance = client
            except (ConnectionError, RuntimeError) as exc:
                raise UserError(
                    f"Cannot reach the Ray Jobs API at {address} ({str(exc)[:200]}). Start a "
                    "cluster (ray start --head) or set MLINTERN_RAY_ADDRESS to its dashboard "
                    "address, e.g. http://127.0.0.1:8265."
                ) from None
            return client
        return self._client_instance

    # --- submission -----------------------------------------------------------------------
    def prepare(self, job: JobRecord, inputs: ResolvedInputs) -> JobUpdate:
        spec = job.spec
        if inputs.working_dir is not None:
            root = inputs.working_dir
        else:
            root = Path(job.job_dir) / "upload"
            root.mkdir()
            for path in (inputs.script, inputs.config_file):
                if path is not None:
                    shutil.copy2(path, root / path.name)
        if inputs.script is not None:
            script = _inside(root, inputs.script, "script", inputs.working_dir is not None)
            entrypoint = shlex.join(["python", "-u", script, *spec.script_args])
        else:
            entrypoint = spec.command or ""
        if spec.timeout:  # Ray Jobs has no time limit of its own
            entrypoint = shlex.join(
                ["timeout", "--kill-after=30", str(spec.timeout), "sh", "-c", entrypoint]
            )
        config = None
        if inputs.config_file is not None:
            config = _inside(
                root, inputs.config_file, "config_file", inputs.working_dir is not None
            )
        resources = spec.resources
        return JobUpdate(
            working_dir=str(root),
            hardware=f"ray: {resources.describe() if resources else 'default resources'}",
            handle={"entrypoint": entrypoint, "upload": str(root), "config_file": config},
        )

    def start(self, job: JobRecord, inputs: ResolvedInputs) -> JobUpdate:
        spec = job.spec
        env = {**spec.env, "MLINTERN_JOB_ID": job.job_id, "PYTHONUNBUFFERED": "1"}
        if job.handle.get("config_file"):
            env["MLINTERN_CONFIG_FILE"] = job.handle["config_file"]
        # Ray has no secret store: named secrets travel as env_vars of the runtime env, which
        # whoever can read this cluster's dashboard can see. Only names the caller gave go.
        env.update(resolve_secrets(spec.secrets, self.settings))
        runtime_env: dict[str, Any] = {"working_dir": job.handle["upload"], "env_vars": env}
        if spec.dependencies:
            runtime_env["pip"] = list(spec.dependencies)
        resources = spec.resources
        metadata = {"mlintern_job_id": job.job_id, **spec.labels}
        if spec.name:
            metadata["name"] = spec.name
        try:
            submission_id = self._client().submit_job(
                entrypoint=job.handle["entrypoint"],
                submission_id=job.job_id,
                runtime_env=runtime_env,
                metadata=metadata,
                entrypoint_num_cpus=resources.cpus if resources else None,
                entrypoint_num_gpus=resources.gpus if resources else None,
                entrypoint_memory=int(resources.memory_gb * 1e9)
                if resources and resources.memory_gb
                else None,
            )
        except (RuntimeError, ValueError, ConnectionError) as exc:
            raise UserError(f"Ray refused the job: {str(exc)[:500]}") from None
        return JobUpdate(
            remote_id=submission_id,
            url=f"{self.settings.ray_address.rstrip('/')}/#/jobs/{submission_id}",
            message="submitted to Ray",
        )

    # --- observation ----------------------------------------------------------------------
    def refresh(self, jobs: list[JobRecord]) -> dict[str, JobUpdate]:
        client = self._client()
        if len(jobs) > 3:  # one listing beats many single requests
            try:
                listed = {d.submission_id: d for d in client.list_jobs()}
            except (RuntimeError, ConnectionError) as exc:
                raise UserError(f"Cannot list Ray jobs: {str(exc)[:300]}") from None
        else:
            listed = {}
            for job in jobs:
                if job.remote_id:
                    try:
                        listed[job.remote_id] = client.get_job_info(job.remote_id)
                    except RuntimeError as exc:
                        if "does not exist" not in str(exc):
                            raise UserError(f"Cannot read Ray job: {str(exc)[:300]}") from None
        updates = {}
        for job in jobs:
            details = listed.get(job.remote_id or "")
            if details is None:
                if job.remote_id:
                    updates[job.job_id] = JobUpdate(
                        status="lost", ended_at=time.time(), message="Ray no longer knows this job"
                    )
                continue
            updates[job.job_id] = _to_update(details)
        return updates

    def sync_logs(self, job: JobRecord) -> None:
        if not job.remote_id or (job.is_terminal and job.handle.get("logs_complete")):
            return
        try:
            text = self._client().get_job_logs(job.remote_id)
        except RuntimeError as exc:
            raise UserError(f"Cannot fetch the Ray job's logs: {str(exc)[:300]}") from None
        path = Path(job.job_dir) / LOG_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(redact_job_text(text, job.spec.secrets, self.settings))  # at rest too
        tmp.replace(path)
        if job.is_terminal:
            with self.jobs.transaction() as conn:
                self.jobs.update(conn, job.job_id, JobUpdate(handle={"logs_complete": True}))

    def cancel(self, job: JobRecord) -> JobUpdate:
        if not job.remote_id:
            return JobUpdate(status="cancelled", ended_at=time.time(), message="cancelled")
        client = self._client()
        try:
            client.stop_job(job.remote_id)
            deadline = time.monotonic() + _STOP_SETTLE_S
            details = client.get_job_info(job.remote_id)
            while not details.status.is_terminal() and time.monotonic() < deadline:
                time.sleep(0.2)
                details = client.get_job_info(job.remote_id)
        except RuntimeError as exc:
            raise UserError(f"Ray could not stop the job: {str(exc)[:300]}") from None
        return _to_update(details)

    def hardware(self) -> HardwareReport:
        self._client()  # a clear error when the cluster is not there
        from ray.util.state import list_nodes

        try:
            nodes = list_nodes(
                address=self.settings.ray_address, filters=[("state", "=", "ALIVE")], timeout=10
            )
        except Exception as exc:  # the state API raises its own exception types
            raise UserError(f"Cannot list the Ray cluster's nodes: {str(exc)[:300]}") from None
        totals: dict[str, float] = {}
        for node in nodes:
            for key, value in (getattr(node, "resources_total", None) or {}).items():
                if not key.startswith("node:"):
                    totals[key] = totals.get(key, 0.0) + float(value)
        gb = 1024**3
        return HardwareReport(
            backend=self.name,
            source=f"Ray state API at {self.settings.ray_address}",
            cpus=totals.get("CPU"),
            memory_gb=round(totals["memory"] / gb, 1) if "memory" in totals else None,
            nodes=len(nodes),
            resources={
                k: round(v / gb, 2) if k in ("memory", "object_store_memory") else v
                for k, v in sorted(totals.items())
            },
            notes=["memory and object_store_memory are in GB"],
        )


def _inside(root: Path, path: Path, kind: str, user_dir: bool) -> str:
    """``path`` relative to the uploaded directory (only that directory reaches the cluster)."""
    if not user_dir:
        return path.name
    try:
        return str(path.relative_to(root))
    except ValueError:
        raise UserError(
            f"{kind} {path} is outside working_dir {root}; on ray only working_dir is uploaded. "
            "Move it into working_dir, or leave working_dir out to upload just the files."
        ) from None


def _to_update(details: Any) -> JobUpdate:
    status = _STATUSES.get(str(getattr(details.status, "value", details.status)), "running")
    return JobUpdate(
        status=status,  # type: ignore[arg-type]
        started_at=details.start_time / 1000 if details.start_time else None,
        ended_at=details.end_time / 1000 if details.end_time else None,
        exit_code=getattr(details, "driver_exit_code", None),
        message=(details.message or status)[:500],
    )
