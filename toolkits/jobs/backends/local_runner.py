"""The wrapper around one local job, and the process-tree helpers the server shares with it.

The server starts ``python -I -S local_runner.py <job_dir>`` in a new session, so the runner
and everything it starts outlive the server (a restart or a crash loses no job). The runner
puts the job in its cgroup (``server/cgroups.py``) and, for an isolated job, lets bubblewrap's
command through the exec gate (``server/exec_gate.py``: cgroup, slirp4netns, egress rules);
it enforces the timeout, and writes ``runner.json`` in the job dir: its own pid and start time
when it begins, the exit code and end time when the job ends. That record is how a later
server process learns what happened while nobody was watching. When its job has ended, it
starts the next queued jobs itself (``local_queue.py``), so the queue moves with no server.

Standard library and ``server/`` modules of the same tree only: it runs with ``-I -S`` to
start fast, with the repo root put on ``sys.path`` by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

RECORD_FILE = "runner.json"
LAUNCH_FILE = "launch.json"
STRAGGLER_GRACE_S = 2.0
GATE_MARK = "@mlintern-exec-gate@"  # in an isolated job's argv: the gate's fds go here
GATE_FAILED = 126  # the exit code recorded when the isolation could not be set up
QUEUE_TIMEOUT_S = 60.0
PR_SET_CHILD_SUBREAPER = 36
ROOT = Path(__file__).resolve().parents[3]  # the tree this runner belongs to


# --- process helpers (Linux /proc; os.kill elsewhere) -------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from the state onwards (the command name may hold spaces)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot): tells a live job from a reused pid."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(pid: int | None, expected_start: int | None = None) -> bool:
    if not pid:
        return False
    if not Path("/proc").is_dir():  # not Linux: no zombie or reuse check available
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return expected_start is None or int(fields[19]) == expected_start


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, session id) of every live process."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields and fields[0] not in ("Z", "X"):
                table[int(entry)] = (int(fields[1]), int(fields[3]))
    return table


def tree_pids(leader: int) -> set[int]:
    """Every live process of the job led by ``leader``: its session (which catches children
    that were re-parented after their parent died) plus its descendants (which catches
    children that moved to a session of their own)."""
    if not Path("/proc").is_dir():
        return {leader} if is_alive(leader) else set()
    table = _process_table()
    found = {pid for pid, (_, session) in table.items() if session == leader}
    found |= {leader} if leader in table else set()
    frontier = list(found)
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return found


def _signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def terminate_tree(leader: int, grace_s: float, exclude: frozenset[int] = frozenset()) -> bool:
    """SIGTERM the whole tree, SIGKILL whatever is left after ``grace_s``. True if all gone."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(leader, signal.SIGTERM)
            time.sleep(grace_s)
            os.killpg(leader, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return True
    _signal_all(tree_pids(leader) - exclude, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not tree_pids(leader) - exclude:
            return True
        time.sleep(0.05)
    # Re-enumerate: the tree may have forked while it was shutting down.
    for _ in range(3):
        remaining = tree_pids(leader) - exclude
        if not remaining:
            return True
        _signal_all(remaining, signal.SIGKILL)
        time.sleep(0.1)
    return not tree_pids(leader) - exclude


# --- the record -----------------------------------------------------------------------------
def read_record(job_dir: Path) -> dict:
    try:
        return json.loads((job_dir / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write_record(job_dir: Path, record: dict) -> None:
    tmp = job_dir / (RECORD_FILE + ".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, job_dir / RECORD_FILE)  # readers never see half a record


# --- the log, redacted as it is written ------------------------------------------------------
_HOLD_MAX = 1024 * 1024  # a line longer than this is written in pieces, cut at whitespace


def _server_modules() -> None:
    """Make ``server.*`` of this tree importable: the runner starts with ``-I -S``."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def _pump_redacted(source: int, sink: int, secret_names: list[str]) -> None:
    """Copy the job's output to the log, each line redacted before it touches the disk.

    Only whole lines (or pieces ending at a carriage return, which progress bars use) are
    written, so a secret is never split between two writes and escapes the pattern."""
    from server.redact import Redactor

    values = [os.environ.get(name, "") for name in secret_names]
    redact = Redactor(values)
    held = b""

    def write(data: bytes) -> None:
        if data:
            text = data.decode("utf-8", "surrogateescape")
            os.write(sink, redact(text).encode("utf-8", "surrogateescape"))

    while True:
        chunk = os.read(source, 65536)
        if not chunk:
            break
        held += chunk
        cut = max(held.rfind(b"\n"), held.rfind(b"\r")) + 1
        if not cut and len(held) > _HOLD_MAX:
            cut = max(held.rfind(b" "), held.rfind(b"\t")) + 1 or len(held)
        write(held[:cut])
        held = held[cut:]
    write(held)
    os.close(source)


def _say(message: str) -> None:
    print(f"[mlintern] {message}", file=sys.stderr, flush=True)


# --- the runner -----------------------------------------------------------------------------
class _Confinement:
    """The job's cgroup and, when it is isolated, its exec gate; both optional."""

    def __init__(self, launch: dict, record: dict):
        self.gate: Any = None
        self.limiter: Any = None
        self.group: str | None = None
        procs: list[str] = []
        wanted = launch.get("cgroup")
        if wanted:
            from server import cgroups

            self.limiter = cgroups.detect()
            try:
                procs = self.limiter.prepare(wanted["name"], wanted["memory_bytes"], wanted["pids"])
                self.group = wanted["name"]
            except OSError as exc:  # a note, not a failure: the job runs without the group
                record["limits_note"] = f"no per-job limits: {exc}"
        self.argv = list(launch["argv"])
        if "gate" in launch:
            from server.exec_gate import ExecGate

            gate = launch["gate"]
            self.gate = ExecGate(gate.get("slirp"), gate.get("resolv_conf"), procs)
            at = self.argv.index(GATE_MARK)
            self.argv[at : at + 1] = self.gate.bwrap_args()
        elif procs:
            self.argv = self.limiter.wrap(procs, self.argv)

    def pass_fds(self) -> tuple[int, ...]:
        return self.gate.pass_fds() if self.gate else ()

    def open(self, child: subprocess.Popen) -> str | None:
        """Let the started child through; why not, if its isolation could not be set up."""
        if self.gate is None:
            return None
        from server.exec_gate import UserNetError

        try:
            self.gate.connect()
        except UserNetError as exc:
            child.kill()
            return f"its isolation could not be set up ({exc}); nothing of it ran"
        return None

    def close(self) -> str | None:
        """Release the network and the group; a note if the kernel killed for memory."""
        if self.gate is not None:
            self.gate.stop_sync()
        if self.limiter is None or self.group is None:
            return None
        killed = self.limiter.oom_kills(self.group)
        self.limiter.remove(self.group)
        if killed:
            return f"the kernel killed {killed} process(es) at the job's memory limit"
        return None


def _become_subreaper() -> None:
    """Adopt whatever the job orphans. bubblewrap's namespace init runs in a session of its
    own; if its parent dies early (a cancel while it starts), it would go to init, out of
    sight of tree_pids, and run on unconfined. Adopted, it stays in the job's tree."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: orphans are found by session instead
        pass


def run(job_dir: Path) -> int:
    _server_modules()
    _become_subreaper()
    launch = json.loads((job_dir / LAUNCH_FILE).read_text())
    me = os.getpid()
    record: dict = {"runner_pid": me, "runner_start": start_ticks(me), "started_at": time.time()}
    _write_record(job_dir, record)
    stop_signal: list[int] = []

    def on_stop(signum: int, _frame: object) -> None:
        # A cancel signals the whole tree; if only the runner was signalled, pass it on. Either
        # way the runner stays to record how the job ended.
        stop_signal.append(signum)
        _signal_all(tree_pids(me) - {me}, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_stop)
    cpus = launch.get("cpu_ids")
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)  # inherited by the job's processes
    confinement = _Confinement(launch, record)
    read_end, write_end = os.pipe()
    try:
        child = subprocess.Popen(
            confinement.argv,
            cwd=launch["cwd"],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            pass_fds=confinement.pass_fds(),
        )
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        confinement.close()
        _say(f"could not start {launch['argv'][0]!r}: {exc}")
        record.update(ended_at=time.time(), exit_code=127, error=str(exc))
        _write_record(job_dir, record)
        _start_queued(launch)
        return 0
    os.close(write_end)  # the job's processes hold the only write ends: EOF when they are gone
    pump = threading.Thread(
        target=_pump_redacted,
        args=(read_end, sys.stdout.fileno(), list(launch.get("secret_names", []))),
        daemon=True,
    )
    pump.start()
    record["child_pid"] = child.pid
    _write_record(job_dir, record)
    refused = confinement.open(child)
    timeout = launch.get("timeout_s")
    timed_out = False
    try:
        code = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _say(f"the job ran longer than its timeout of {timeout}s; stopping it")
        terminate_tree(me, float(launch.get("grace_s", 10)), exclude=frozenset({me}))
        code = child.wait()
    # A background process the job left behind would hold CPU, GPU memory or ports: the job is
    # over when its main process is, so stragglers go too.
    terminate_tree(me, STRAGGLER_GRACE_S, exclude=frozenset({me}))
    pump.join(timeout=10)  # the last lines reach the log before the end is recorded
    released = confinement.close()
    if refused:
        _say(refused)
        code = GATE_FAILED
    ended = time.time()
    record.update(ended_at=ended, exit_code=code, timed_out=timed_out)
    if refused or released:
        record["error"] = refused or released
    if stop_signal:
        record["stop_signal"] = stop_signal[0]
    _write_record(job_dir, record)
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    _say(f"job ended: {how} after {ended - record['started_at']:.1f}s")
    _start_queued(launch)
    return 0


def _anything_queued(state: str | None) -> bool:
    """A cheap look before starting a Python with the whole package: most jobs end with an
    empty queue. When in doubt, yes (the pass itself decides)."""
    if not state:
        return True
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT 1 FROM jobs WHERE backend = 'local' AND status = 'queued' LIMIT 1"
            ).fetchone()
    except sqlite3.Error:
        return True
    return row is not None


def _start_queued(launch: dict) -> None:
    """Start the jobs queued behind this one (those that need no secret), server or not."""
    queue = launch.get("queue")
    if not queue or not _anything_queued(queue.get("state")):
        return
    try:
        done = subprocess.run(
            [
                queue["python"],
                "-I",
                str(Path(__file__).with_name("local_queue.py")),
                queue["home"],
                str(queue["max_concurrent"]),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=queue["home"],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
            timeout=QUEUE_TIMEOUT_S,
            start_new_session=True,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _say(f"could not start the queued jobs: {exc}")
        return
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        _say(f"could not start the queued jobs: {tail[0]}")


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
