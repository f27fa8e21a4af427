"""Where an isolated child with user-mode networking (a `network=True` sandbox, a local job)
may not go: this machine, private and link-local ranges.

slirp4netns forwards the sandbox's connections through ordinary sockets of the server, so
without more, "the internet" includes every address the server itself can reach: its own
non-loopback addresses (services bound to 0.0.0.0), the networks it sits on, private ranges
behind it, and the cloud metadata service at 169.254.169.254. Before the command starts, the
server (root, in the sandbox's network namespace) adds ``prohibit`` routing rules for all of
those: a connect to one fails at once with EACCES, and no packet leaves. The only private
address left reachable is slirp4netns' own DNS forwarder. slirp4netns gives the sandbox no
IPv6, so IPv6 is switched off in the namespace altogether (no link-local fe80::/10 either).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import shutil
import subprocess

SLIRP_DNS = "10.0.2.3/32"
PRIVATE_V4 = (
    "0.0.0.0/8",
    "10.0.0.0/8",  # slirp4netns' own 10.0.2.0/24 included: 10.0.2.2 is the host
    "100.64.0.0/10",
    "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254) included
    "172.16.0.0/12",
    "192.168.0.0/16",
)
ALLOW_PREF = 100
PROHIBIT_PREF = 200
APPLY_TIMEOUT_S = 10
# Run inside the namespace as root: the rules, then IPv6 off (its sysctls are per namespace).
SCRIPT = (
    'printf "%s" "$1" | ip -4 -batch - || exit 1; '
    "[ ! -d /proc/sys/net/ipv6 ] || for c in all default; do "
    "echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6 || exit 1; done"
)


class EgressError(RuntimeError):
    """The blocking rules could not be put in place (so the command must not start)."""


def host_networks() -> list[str]:
    """This machine's IPv4 addresses (as /32) and the networks they sit on, loopback aside."""
    ip = shutil.which("ip")
    if ip is None:
        raise EgressError("iproute2 (`ip`) is not installed")
    try:
        listing = subprocess.run(
            [ip, "-j", "-4", "addr", "show"],
            capture_output=True,
            text=True,
            timeout=APPLY_TIMEOUT_S,
            check=True,
        ).stdout
        interfaces = json.loads(listing or "[]")
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise EgressError(f"could not list this machine's addresses: {exc}") from exc
    networks: list[str] = []
    for interface in interfaces:
        for entry in interface.get("addr_info", []):
            with contextlib.suppress(KeyError, ValueError):
                local = ipaddress.ip_interface(f"{entry['local']}/{entry['prefixlen']}")
                if local.ip.is_loopback:
                    continue  # the sandbox's 127.0.0.0/8 is its own loopback, not the host's
                networks += [f"{local.ip}/32", str(local.network)]
    return list(dict.fromkeys(networks))


def rules(host: list[str]) -> str:
    """``ip -batch`` lines: slirp's DNS allowed, then every local destination prohibited."""
    lines = [f"rule add to {SLIRP_DNS} lookup main pref {ALLOW_PREF}"]
    blocked = dict.fromkeys([*PRIVATE_V4, *host])
    lines += [f"rule add to {network} prohibit pref {PROHIBIT_PREF}" for network in blocked]
    return "\n".join(lines) + "\n"


def apply(pid: int) -> None:
    """Put the rules into the network namespace of ``pid`` (the sandbox, not yet started)."""
    nsenter = shutil.which("nsenter")
    shell = shutil.which("sh") or "/bin/sh"
    if nsenter is None:
        raise EgressError("nsenter (util-linux) is not installed")
    batch = rules(host_networks())
    try:
        done = subprocess.run(
            [nsenter, "-t", str(pid), "-n", "--", shell, "-c", SCRIPT, "egress", batch],
            capture_output=True,
            text=True,
            timeout=APPLY_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EgressError(f"could not block local addresses: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise EgressError(f"could not block local addresses: {detail}")
