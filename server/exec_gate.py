"""The gate an isolated child passes between bubblewrap's spawn and its command's start.

Shared by sandbox execs and local jobs (whose detached runner loads it with the repo root on
``sys.path``, so standard library and ``server.egress`` only). bubblewrap reports the child's
PID on ``--info-fd`` and waits on ``--block-fd``; meanwhile the child joins its cgroups and,
for user-mode networking, slirp4netns attaches to its network namespace (made by
``unshare --net``) and egress.py's rules keep it off this machine's own addresses and private
and link-local ranges. Only then does the command start, so it never runs outside its limits
or sees a network that is not there yet. slirp4netns' ``--disable-host-loopback`` refuses
10.0.2.2 (the host's 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from server import egress

READY_TIMEOUT_S = 10.0
# slirp4netns' built-in DNS forwarder; the host's resolv.conf may name 127.0.0.53, unreachable.
RESOLV_CONF = "nameserver 10.0.2.3\noptions edns0\n"


class UserNetError(RuntimeError):
    """User-mode networking could not be set up for this exec."""


@dataclass
class Handshake:
    """The pipes bubblewrap and the server talk through before the command starts."""

    info_read: int
    info_write: int
    block_read: int
    block_write: int

    @classmethod
    def open(cls) -> Handshake:
        info_read, info_write = os.pipe()
        block_read, block_write = os.pipe()
        return cls(info_read, info_write, block_read, block_write)

    def bwrap_args(self) -> list[str]:
        return ["--info-fd", str(self.info_write), "--block-fd", str(self.block_read)]

    def child_fds(self) -> tuple[int, int]:
        return (self.info_write, self.block_read)

    def after_spawn(self) -> None:
        """Close the child's ends here, so EOF on info_read means bubblewrap is gone."""
        self._close("info_write", "block_read")

    def close(self) -> None:
        self._close("info_read", "info_write", "block_read", "block_write")

    def _close(self, *names: str) -> None:
        # Each fd is closed once: a number closed twice may by then belong to another file
        # this server opened (in another thread), and that file would be closed instead.
        for name in names:
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                with contextlib.suppress(OSError):
                    os.close(fd)


def _read_child_pid(fd: int) -> int:
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            raise UserNetError("bubblewrap exited before reporting the sandbox's PID")
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except ValueError:
            continue  # the JSON arrives in pieces
        except (KeyError, TypeError) as exc:
            raise UserNetError(f"unexpected bubblewrap info: {data[:200]!r}") from exc


def _start_slirp(slirp: str, pid: int) -> tuple[subprocess.Popen[bytes], int]:
    ready_read, ready_write = os.pipe()
    exit_read, exit_write = os.pipe()
    try:
        proc = subprocess.Popen(
            [
                slirp,
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                "--ready-fd",
                str(ready_write),
                "--exit-fd",
                str(exit_read),
                str(pid),
                "tap0",
            ],
            pass_fds=(ready_write, exit_read),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    finally:
        os.close(ready_write)
        os.close(exit_read)
    try:
        ready = _read_with_timeout(ready_read, READY_TIMEOUT_S)
    finally:
        os.close(ready_read)
    if ready != b"1":
        os.close(exit_write)
        proc.kill()
        detail = _stderr_tail(proc)
        raise UserNetError(f"slirp4netns did not start: {detail or 'no reason given'}")
    return proc, exit_write


def _read_with_timeout(fd: int, timeout_s: float) -> bytes:
    import select

    readable, _, _ = select.select([fd], [], [], timeout_s)
    return os.read(fd, 1) if readable else b""


def _stderr_tail(proc: subprocess.Popen[bytes]) -> str:
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        return ""
    lines = err.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


class ExecGate:
    """What happens between bubblewrap's spawn and the command's start.

    The sandbox joins its cgroups (from the server, while bubblewrap still sets up its mounts:
    entering a cgroup costs an RCU grace period, and this way it overlaps with that work
    instead of delaying the command), and, for user-mode networking, gets slirp4netns and
    the egress rules. Every process of the command is forked after this, so all of them are
    inside both.
    """

    def __init__(
        self,
        slirp: str | None = None,
        resolv_conf: str | None = None,
        cgroup_procs: Sequence[str] = (),
    ):
        self.slirp = slirp
        self.resolv_conf = resolv_conf  # a file to show as /etc/resolv.conf
        self.cgroup_procs = tuple(cgroup_procs)
        self.handshake = Handshake.open()
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_fd: int | None = None

    def bwrap_args(self) -> list[str]:
        args = self.handshake.bwrap_args()
        if self.resolv_conf:
            args += ["--ro-bind", self.resolv_conf, "/etc/resolv.conf"]
        return args

    def pass_fds(self) -> tuple[int, ...]:
        return self.handshake.child_fds()

    def connect(self) -> None:
        """After the spawn: wait for the sandbox's PID, set it up, let it start."""
        self.handshake.after_spawn()
        pid = None
        try:
            pid = _read_child_pid(self.handshake.info_read)
            for procs in self.cgroup_procs:
                try:
                    Path(procs).write_text(str(pid))
                except OSError as exc:
                    raise UserNetError(f"could not enter the cgroup: {exc}") from None
            if self.slirp:
                self.proc, self.exit_fd = _start_slirp(self.slirp, pid)
                try:
                    egress.apply(pid)
                except egress.EgressError as exc:
                    raise UserNetError(str(exc)) from None
            try:
                os.write(self.handshake.block_write, b"1")
            except BrokenPipeError:
                raise UserNetError("bubblewrap exited before the command started") from None
        except BaseException:
            # EOF on the block fd lets bubblewrap go on: its namespace dies first, so the
            # command never starts outside its cgroup or rules.
            if pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            raise
        finally:
            self.handshake.close()

    async def start(self) -> None:
        await asyncio.to_thread(self.connect)

    def stop_sync(self) -> None:
        self.handshake.close()
        if self.exit_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.exit_fd)  # slirp4netns exits when this closes
            self.exit_fd = None
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)
