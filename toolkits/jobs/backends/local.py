"""Local jobs: detached processes on this machine, queued beyond a concurrency limit.

Each job runs under ``local_runner.py`` in a session of its own, so it survives the server,
isolated by default (local_isolation.py). The queue lives in the state file: whichever process
looks next (a tool call, the supervisor thread while jobs are active, or the runner of a job
that just ended, through local_queue.py) reconciles finished jobs and starts queued ones, inside
one write transaction, so several processes sharing a home never exceed the limit together.
A runner holds no credential, so a queued job that names secrets waits for a server process:
secret values are never written to disk to let a runner pass them on.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from server.errors import UserError
from toolkits.jobs.announce import announce_ends
from toolkits.jobs.backends import local_runner
from toolkits.jobs.backends.base import Backend
from toolkits.jobs.backends.local_gpus import gpu_environment
from toolkits.jobs.backends.local_isolation import cgroup_spec, isolate
from toolkits.jobs.backends.local_placement import check_installed, placement
from toolkits.jobs.credentials import base_environment, resolve_secrets
from toolkits.jobs.hardware import detect_gpus, memory_gb, usable_cpus
from toolkits.jobs.inputs import ResolvedInputs
from toolkits.jobs.logs import LOG_FILE
from toolkits.jobs.models import HardwareReport, JobRecord, JobUpdate

log = logging.getLogger(__name__)

RUNNER = Path(local_runner.__file__).resolve()
CANCEL_GRACE_S = 5.0
SUPERVISOR_PERIOD_S = 0.5
WAITS_FOR_A_SERVER = (
    "queued; it names secrets, which only a running mlintern server holds (they are never "
    "written to disk), so it starts when a slot is free while a server runs"
)

# Runners this process started, kept so their exit status is collected (no zombies).
_children: dict[int, tuple[Path, subprocess.Popen]] = {}
_supervisors: dict[Path, threading.Thread] = {}
_lock = threading.Lock()


class LocalBackend(Backend):
    name = "local"
    poll_interval_s = 0.25
    headless = False  # True in a runner's local_queue.py: no server, so no secrets

    # --- submission -----------------------------------------------------------------------
    def prepare(self, job: JobRecord, inputs: ResolvedInputs) -> JobUpdate:
        spec = job.spec
        check_installed(spec.dependencies)
        cpu_ids, hardware = placement(spec.resources)
        job_dir = Path(job.job_dir)
        if inputs.script is not None:
            cwd = inputs.working_dir or inputs.script.parent
            argv = [sys.executable, "-u", str(inputs.script), *spec.script_args]
        else:
            # Not the job dir itself: the runner's record there is not the job's to rewrite.
            cwd = inputs.working_dir or job_dir / "work"
            cwd.mkdir(mode=0o700, exist_ok=True)
            argv = ["/bin/sh", "-c", spec.command or ""]
        metrics_dir = Path(job.log_dir or job_dir / "metrics")
        metrics_dir.mkdir(parents=True, exist_ok=True)
        cgroup, limits = cgroup_spec(job)
        launch: dict = {
            "cwd": str(cwd),
            "timeout_s": spec.timeout,
            "grace_s": CANCEL_GRACE_S,
            "cpu_ids": cpu_ids,
            # Names only (never values): the runner redacts these variables' values from the log.
            "secret_names": list(spec.secrets),
            "cgroup": cgroup,
            # How a runner whose job ended starts the next queued ones (local_queue.py).
            "queue": {
                "python": sys.executable,
                "home": str(self.settings.home),
                "state": str(self.settings.state_path),
                "max_concurrent": self.settings.jobs_max_concurrent,
            },
        }
        isolated_env: dict[str, str] = {}
        notes = [limits] if cgroup is None else []
        how = "NOT isolated (MLINTERN_JOBS_ISOLATION=off)"
        if self.settings.jobs_isolation == "bwrap":
            isolated = isolate(
                self.settings,
                job,
                argv,
                cwd=cwd,
                metrics_dir=metrics_dir,
                script=inputs.script,
                config=inputs.config_file,
            )
            argv, isolated_env = isolated.argv, isolated.env
            launch["gate"] = isolated.gate
            notes += isolated.notes
            how = isolated.summary
        launch["argv"] = argv
        handle = {"config_file": str(inputs.config_file)} if inputs.config_file else {}
        launch["env"] = self._environment(job, metrics_dir, handle, isolated_env)
        _write_private(job_dir / local_runner.LAUNCH_FILE, json.dumps(launch))
        how += f"; {limits}" if cgroup else ""
        hardware = " · ".join([hardware, how, *(f"note: {n}" for n in notes)])
        return JobUpdate(
            hardware=hardware,
            working_dir=str(cwd),
            handle=handle,
            message=WAITS_FOR_A_SERVER if spec.secrets else None,
        )

    def start(self, job: JobRecord, inputs: ResolvedInputs) -> JobUpdate:
        self.pump()
        return JobUpdate()

    # --- the queue ------------------------------------------------------------------------
    def pump(self) -> bool:
        """Reconcile running jobs, then start queued ones while slots are free. False when
        there was nothing to change."""
        if self._nothing_to_do():
            return False
        with self.jobs.transaction() as conn:
            running = 0
            queued: list[JobRecord] = []
            for job in self.jobs.active(conn, self.name):
                adopted = job.status == "queued" and local_runner.read_record(Path(job.job_dir))
                if job.status == "queued" and not adopted:
                    queued.append(job)
                    continue
                # Running, or started by a server that died before recording it.
                update = self.observe(job)
                if update.status is None or update.status == "running":
                    running += 1
                    if adopted:
                        update = _adopt(job)
                self.jobs.update(conn, job.job_id, update)  # writes only what differs
            for job in queued:
                if job.cancel_requested:
                    self.jobs.update(conn, job.job_id, _cancelled_before_start())
                    continue
                if job.spec.secrets and self.headless:
                    continue  # WAITS_FOR_A_SERVER: a runner has no secret to give it
                if running >= self.settings.jobs_max_concurrent:
                    break
                update = self._spawn(job)
                self.jobs.update(conn, job.job_id, update)
                running += update.status == "running"
            more = running > 0 or len(queued) > 0
        _reap()
        if more and not self.headless:
            self._ensure_supervisor()
        return True

    def _nothing_to_do(self) -> bool:
        """A read-only look: every running job still runs and no queued job could start. Status
        polls take this path, so they never wait for the write lock."""
        with self.jobs.reading() as conn:
            active = self.jobs.active(conn, self.name)
        running = [job for job in active if job.status == "running"]
        queued = [job for job in active if job.status == "queued"]
        if queued and len(running) < self.settings.jobs_max_concurrent:
            return False
        for job in running:
            update = self.observe(job)
            if update.status is not None or (update.message and update.message != job.message):
                return False
        for job in queued:
            if job.cancel_requested or local_runner.read_record(Path(job.job_dir)):
                return False
        if active and not self.headless:
            self._ensure_supervisor()
        return True

    def _spawn(self, job: JobRecord) -> JobUpdate:
        job_dir = Path(job.job_dir)
        try:
            launch = json.loads((job_dir / local_runner.LAUNCH_FILE).read_text())
            env = {**launch["env"], **resolve_secrets(job.spec.secrets, self.settings)}
        except UserError as exc:
            now = time.time()
            return JobUpdate(status="failed", ended_at=now, message=f"not started: {exc}")
        except (OSError, ValueError, KeyError) as exc:
            now = time.time()
            return JobUpdate(status="failed", ended_at=now, message=f"not started: {exc!r}")
        try:
            log_fd = os.open(job_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(log_fd, "ab") as output:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", str(RUNNER), str(job_dir)],
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    env=env,
                    cwd=job_dir,
                    start_new_session=True,  # own session and process group: outlives us
                    close_fds=True,
                )
        except OSError as exc:
            return JobUpdate(status="failed", ended_at=time.time(), message=f"not started: {exc}")
        with _lock:
            _children[proc.pid] = (job_dir, proc)
        return JobUpdate(
            status="running",
            started_at=time.time(),
            message="running",
            handle={"runner_pid": proc.pid, "runner_start": local_runner.start_ticks(proc.pid)},
        )

    def _environment(
        self, job: JobRecord, metrics_dir: Path, handle: dict, isolated: dict[str, str]
    ) -> dict[str, str]:
        """Everything the job's environment holds but secrets. Taken when it is submitted and
        kept in its launch file, so a runner can start it later the same way."""
        spec = job.spec
        env = base_environment()
        env.update(PYTHONUNBUFFERED="1", TRACKIO_DIR=str(metrics_dir / "trackio"), **isolated)
        resources = spec.resources
        if resources and resources.cpus:
            env["OMP_NUM_THREADS"] = str(math.ceil(resources.cpus))
        env.update(gpu_environment(resources.gpus if resources else None))
        env.update(spec.env)
        env.update(
            MLINTERN_JOB_ID=job.job_id,
            MLINTERN_JOB_DIR=job.job_dir,
            MLINTERN_METRICS_DIR=str(metrics_dir),
        )
        if handle.get("config_file"):
            env["MLINTERN_CONFIG_FILE"] = handle["config_file"]
        return env

    # --- observation ----------------------------------------------------------------------
    def observe(self, job: JobRecord) -> JobUpdate:
        """What the runner's record and the process table say about a started job."""
        job_dir = Path(job.job_dir)
        record = local_runner.read_record(job_dir)
        if "exit_code" in record:
            return _ended(job, record)
        pid = record.get("runner_pid") or job.handle.get("runner_pid")
        started = record.get("runner_start") or job.handle.get("runner_start")
        if local_runner.is_alive(pid, started):
            return JobUpdate()
        record = local_runner.read_record(job_dir)  # it may have finished since the first read
        if "exit_code" in record:
            return _ended(job, record)
        if pid and local_runner.tree_pids(pid):
            return JobUpdate(
                message="running, but its wrapper died: the exit code will not be recorded"
            )
        if job.cancel_requested:
            return JobUpdate(status="cancelled", ended_at=time.time(), message="cancelled")
        return JobUpdate(
            status="lost",
            ended_at=time.time(),
            message="its processes are gone and left no exit record (the machine restarted, "
            "or they were killed with SIGKILL). The log is kept; resubmit to run it again.",
        )

    def refresh(self, jobs: list[JobRecord]) -> dict[str, JobUpdate]:
        # The pump writes what it learns itself; an empty update asks for a re-read.
        return {job.job_id: JobUpdate() for job in jobs} if self.pump() else {}

    def process_alive(self, job: JobRecord) -> bool | None:
        if job.status != "running":
            return False
        pid = job.handle.get("runner_pid")
        if local_runner.is_alive(pid, job.handle.get("runner_start")):
            return True
        return bool(pid) and bool(local_runner.tree_pids(pid))  # the wrapper died, not the job

    # --- cancel ---------------------------------------------------------------------------
    def cancel(self, job: JobRecord) -> JobUpdate:
        with self.jobs.transaction() as conn:
            self.jobs.mark_cancel_requested(conn, job.job_id)
            current = self.jobs.get(conn, job.job_id)
            if current.status == "queued" and not local_runner.read_record(Path(job.job_dir)):
                self.jobs.update(conn, job.job_id, _cancelled_before_start())
                return JobUpdate()
        pid = current.handle.get("runner_pid")
        started = current.handle.get("runner_start")
        reused = pid and not local_runner.is_alive(pid, started) and local_runner.is_alive(pid)
        if pid and not reused:  # never signal a stranger that inherited the pid
            local_runner.terminate_tree(pid, CANCEL_GRACE_S)
        self.pump()
        return JobUpdate()

    def hardware(self) -> HardwareReport:
        total, available = memory_gb()
        with self.jobs.reading() as conn:
            running = len([j for j in self.jobs.active(conn, self.name) if j.status == "running"])
        return HardwareReport(
            backend=self.name,
            source="this machine (/proc, nvidia-smi)",
            cpus=usable_cpus(),
            memory_gb=round(total, 1) if total else None,
            memory_available_gb=round(available, 1) if available else None,
            gpus=detect_gpus(),
            running_jobs=running,
            max_concurrent=self.settings.jobs_max_concurrent,
            notes=[f"load average {os.getloadavg()[0]:.2f} (1 min)"]
            if hasattr(os, "getloadavg")
            else [],
        )

    # --- supervision ----------------------------------------------------------------------
    def _ensure_supervisor(self) -> None:
        key = self.jobs.state.path
        with _lock:
            thread = _supervisors.get(key)
            if thread is not None and thread.is_alive():
                return
            thread = threading.Thread(
                target=self._supervise, name=f"mlintern-jobs-{key.parent.name}", daemon=True
            )
            _supervisors[key] = thread
        thread.start()

    def _supervise(self) -> None:
        """Keep the queue moving while this process has active local jobs to look after."""
        while True:
            time.sleep(SUPERVISOR_PERIOD_S)
            try:
                self.pump()
                announce_ends(self.settings, self.jobs)  # detached jobs end unobserved
                with self.jobs.reading() as conn:
                    if not self.jobs.count_active(conn, self.name):
                        break
            except Exception:  # a bug here must not kill the thread silently
                log.exception("local jobs supervisor")
        _reap(wait_s=2.0)  # the last runners are writing their record and exiting
        with _lock:
            if _supervisors.get(self.jobs.state.path) is threading.current_thread():
                del _supervisors[self.jobs.state.path]


def _ended(job: JobRecord, record: dict) -> JobUpdate:
    code = int(record["exit_code"])
    if job.cancel_requested:
        status, message = "cancelled", "cancelled"
    elif record.get("timed_out"):
        status, message = "failed", f"stopped after its timeout of {job.spec.timeout}s"
    elif code == 0:
        status, message = "completed", "exited with code 0"
    elif code < 0:
        status, message = "failed", f"killed by signal {-code}"
    else:
        status, message = "failed", f"exited with code {code}"
    for note in (record.get("error"), record.get("limits_note")):
        message += f" ({note})" if note else ""
    return JobUpdate(
        status=status, ended_at=record.get("ended_at"), exit_code=code, message=message
    )


def _adopt(job: JobRecord) -> JobUpdate:
    record = local_runner.read_record(Path(job.job_dir))
    return JobUpdate(
        status="running",
        started_at=record.get("started_at"),
        message="running",
        handle={"runner_pid": record.get("runner_pid"), "runner_start": record.get("runner_start")},
    )


def _cancelled_before_start() -> JobUpdate:
    return JobUpdate(
        status="cancelled", ended_at=time.time(), message="cancelled before it started"
    )


def _reap(wait_s: float = 0.0) -> None:
    """Collect the exit status of runners that ended, so none lingers as a zombie; runners
    whose job has ended get up to ``wait_s`` to finish exiting."""
    with _lock:
        children = list(_children.items())
    for pid, (job_dir, proc) in children:
        finishing = "exit_code" in local_runner.read_record(job_dir)
        try:
            proc.wait(wait_s if finishing else 0)
        except subprocess.TimeoutExpired:
            continue
        with _lock:
            _children.pop(pid, None)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
