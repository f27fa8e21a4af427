"""User-mode networking for ``network=True`` local sandboxes: the internet, not the host.

Sharing the host's network would let a sandbox reach every service listening on the host's
loopback (an mlintern HTTP server without a token, a Ray dashboard that accepts jobs, a
database): an escape in all but name. Instead the sandbox keeps its own network namespace and
slirp4netns gives it a TAP device whose traffic leaves through ordinary sockets of the server,
with ``--disable-host-loopback`` refusing 10.0.2.2 (the host's 127.0.0.1).

The order matters: ``unshare --net`` makes the namespace (bubblewrap only inherits it, so its
own loopback set-up cannot race slirp4netns, which brings up lo as well); bubblewrap reports
the sandbox's PID on ``--info-fd`` and waits on ``--block-fd``; slirp4netns attaches to that
PID and says ready; only then does the command start, so it never sees a network that is not
there yet. Before that, egress.py's rules keep it off this machine's own addresses and off
private and link-local ranges (the gate itself is ``server/exec_gate.py``, which local jobs
share). Making a network namespace needs root: a server running
unprivileged refuses network=True unless the operator accepts the host's network
(MLINTERN_SANDBOX_ALLOW_UNISOLATED), and then says so when the sandbox is created. The same
handshake lets the sandbox join its cgroup before its command starts (``ExecGate``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from server.errors import UserError
from server.exec_gate import RESOLV_CONF, ExecGate, UserNetError
from server.settings import Settings
from toolkits.sandbox.backends.base import SandboxRef, SandboxSpec
from toolkits.sandbox.backends.bwrap import (
    PROBE_TIMEOUT_S,
    PROBE_TMPFS_BYTES,
    NetworkMode,
    Probe,
    bwrap_argv,
    host_python,
    probe_workspace,
)

__all__ = ["ExecGate", "UserNetError", "attach", "choose_mode", "for_exec", "mode_of"]


@functools.cache
def probe_user_network(
    bwrap: str, drop_to: tuple[int, int] | None, setpriv: str | None, slirp4netns: str
) -> str:
    """Why slirp4netns cannot network a sandbox here, or "" when it can (tried for real once)."""
    slirp = shutil.which(slirp4netns)
    if slirp is None:
        return f"slirp4netns ({slirp4netns!r}) is not installed"
    with probe_workspace(drop_to) as workspace:
        network = ExecGate(slirp)
        argv = bwrap_argv(
            bwrap,
            workspace=workspace,
            python=host_python(),
            network="user",
            tmpfs_bytes=PROBE_TMPFS_BYTES,
            drop_to=drop_to,
            setpriv=setpriv,
            extra=network.bwrap_args(),
        )
        # The sandbox must see its TAP device: slirp4netns may "start" yet fail to attach.
        check = "import socket; print(socket.if_nametoindex('tap0'))"
        try:
            proc = subprocess.Popen(
                [*argv, host_python().executable, "-c", check],
                pass_fds=network.pass_fds(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            )
        except OSError as exc:
            network.stop_sync()
            return f"bubblewrap did not run: {exc}"
        try:
            network.connect()
        except UserNetError as exc:
            proc.kill()
            return str(exc)
        finally:
            try:
                out, err = proc.communicate(timeout=PROBE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            network.stop_sync()
    if proc.returncode != 0 or not out.strip().isdigit():
        lines = err.decode(errors="replace").strip().splitlines()
        return "the sandbox got no network device" + (f": {lines[-1]}" if lines else "")
    return ""


async def attach(
    network: ExecGate,
    proc: asyncio.subprocess.Process,
    kill: Callable[[asyncio.subprocess.Process], None],
) -> None:
    """Let a just-spawned exec through its gate; on any failure nothing of it keeps running."""
    try:
        await network.start()
    except BaseException as exc:  # a cancelled exec too: the command must not start alone
        kill(proc)
        await proc.wait()
        await network.stop()
        if not isinstance(exc, UserNetError):
            raise
        said = await proc.stderr.read(4096) if proc.stderr else b""
        detail = said.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise UserError(
            f"The sandbox could not be set up ({exc}{': ' if detail[0] else ''}"
            f"{detail[0]}); nothing ran. Try again, or create the sandbox with network=False "
            f"if it needs no internet."
        ) from None


# --- which network a sandbox gets ---------------------------------------------------------


def mode_of(sandbox: SandboxRef) -> NetworkMode:
    if not sandbox.network:
        return "none"
    # Sandboxes from before user-mode networking kept the host's network.
    return sandbox.state.get("network", "host")


async def choose_mode(
    settings: Settings,
    spec: SandboxSpec,
    probe: Probe,
    drop_to: tuple[int, int] | None,
    sandbox_dir: Path,
) -> tuple[NetworkMode, str]:
    """(how a new sandbox is networked, a warning when it reaches more than the internet)."""
    if not spec.network:
        return "none", ""
    if not probe.usable:
        return "host", ""  # the rlimits-only warning already says there is no isolation
    if os.geteuid() != 0:
        reason = "making a network namespace for slirp4netns needs a server running as root"
    else:
        reason = await asyncio.to_thread(
            probe_user_network,
            probe.bwrap or "bwrap",
            drop_to,
            probe.setpriv,
            settings.sandbox_slirp4netns,
        )
    if not reason:
        await asyncio.to_thread((sandbox_dir / "resolv.conf").write_text, RESOLV_CONF)
        return "user", ""
    if not settings.sandbox_allow_unisolated:
        raise UserError(
            f"Refusing network=True: the sandbox would share this machine's network ({reason}), "
            f"so services on its loopback and private networks would be reachable. Install "
            f"slirp4netns and iproute2 (Debian/Ubuntu: apt-get install slirp4netns iproute2) "
            f"for internet-only sandboxes, create the sandbox with network=False, or set "
            f"MLINTERN_SANDBOX_ALLOW_UNISOLATED=true to accept a shared network."
        )
    return "host", (
        f"NOT ISOLATED: network=True shares this machine's network ({reason}): services "
        f"listening on its loopback (127.0.0.1) and private networks are reachable from the "
        f"sandbox (allowed by MLINTERN_SANDBOX_ALLOW_UNISOLATED). Install slirp4netns "
        f"(Debian/Ubuntu: apt-get install slirp4netns) to give sandboxes the internet only."
    )


def for_exec(
    settings: Settings, sandbox: SandboxRef, sandbox_dir: Path, cgroup_procs: Sequence[str]
) -> ExecGate | None:
    """The gate one exec of ``sandbox`` passes (cgroups, user-mode network), if it needs one."""
    if mode_of(sandbox) != "user":
        return ExecGate(cgroup_procs=cgroup_procs) if cgroup_procs else None
    slirp = shutil.which(settings.sandbox_slirp4netns)
    if slirp is None:
        raise UserError(
            f"{sandbox.sandbox_id} was created with internet access through slirp4netns, "
            f"which is no longer installed. Reinstall it, or create a new sandbox."
        )
    resolv = sandbox_dir / "resolv.conf"
    return ExecGate(slirp, str(resolv) if resolv.exists() else None, cgroup_procs)
