"""network=True reaches the internet only: not this machine's addresses, private or link-local.

No packet leaves this machine in these tests: a prohibit rule refuses a TCP connect before any
SYN is sent (EACCES at once), and the positive controls use UDP connects, which only look the
route up. The one real connection is to a listener this test runs on this machine's own
non-loopback address.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
from collections.abc import Iterator

import pytest
from sandbox_kit import line_server, require_tun

from server import egress
from server.settings import Settings
from server.state import StateStore
from toolkits.sandbox.core import SandboxService

pytestmark = pytest.mark.usefixtures("isolated")

# Run inside the sandbox: how each connect ends, and how fast.
PROBE = """
import errno, json, socket, sys, time
results = {}
for family, kind, host, port in json.loads(sys.argv[1]):
    sock = socket.socket(family, kind)
    sock.settimeout(3)
    started = time.monotonic()
    try:
        sock.connect((host, port))
        outcome = sock.recv(100).decode().strip() if kind == socket.SOCK_STREAM else "routed"
    except OSError as exc:
        outcome = errno.errorcode.get(exc.errno, str(exc))
    results[host] = [outcome, round(time.monotonic() - started, 3)]
    sock.close()
print(json.dumps(results))
"""
BLOCKED_V4 = ["169.254.169.254", "10.1.2.3", "10.0.2.2", "172.16.5.4", "192.168.1.1", "100.64.0.1"]


def host_address() -> str | None:
    """One non-loopback IPv4 address of this machine, if it has one."""
    listing = subprocess.run(
        ["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    for interface in json.loads(listing):
        for entry in interface.get("addr_info", []):
            if not ipaddress.ip_address(entry["local"]).is_loopback:
                return entry["local"]
    return None


@pytest.fixture
def host_listener() -> Iterator[tuple[str, int]]:
    """A TCP server on this machine's own non-loopback address, answering one line."""
    address = host_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to protect")
    with line_server(address) as port:
        yield address, port


async def probe(service: SandboxService, sandbox_id: str, targets: list) -> dict[str, list]:
    ran = await service.exec(
        sandbox_id, f"python -c '{PROBE}' '{json.dumps(targets)}'", timeout_s=60
    )
    assert ran.exit_code == 0, ran.stderr.text
    return json.loads(ran.stdout.text)


@pytest.fixture
def online(service: SandboxService) -> SandboxService:
    require_tun()
    return service


async def test_private_link_local_and_metadata_addresses_are_refused_at_once(
    online: SandboxService,
) -> None:
    sandbox = await online.create(network=True)
    assert sandbox.network == "user" and sandbox.warnings == []
    tcp = [[socket.AF_INET, socket.SOCK_STREAM, host, 80] for host in BLOCKED_V4]
    v6 = [[socket.AF_INET6, socket.SOCK_STREAM, host, 80] for host in ("fd00::2", "fe80::1%tap0")]
    # Positive controls: a public address and slirp4netns' DNS forwarder are routed.
    udp = [[socket.AF_INET, socket.SOCK_DGRAM, host, 53] for host in ("1.1.1.1", "10.0.2.3")]
    results = await probe(online, sandbox.sandbox_id, tcp + v6 + udp)
    for host in BLOCKED_V4:
        outcome, seconds = results[host]
        assert outcome == "EACCES" and seconds < 0.5, (host, results[host])
    for host in ("fd00::2", "fe80::1%tap0"):  # no IPv6 at all in the sandbox
        outcome, seconds = results[host]
        assert outcome in ("ENETUNREACH", "EADDRNOTAVAIL", "EINVAL") and seconds < 0.5, (
            host,
            results[host],
        )
    assert results["1.1.1.1"][0] == "routed" and results["10.0.2.3"][0] == "routed", results
    # The rules are in place in the sandbox's namespace, and it cannot change them.
    v6_off = await online.exec(sandbox.sandbox_id, "cat /proc/sys/net/ipv6/conf/all/disable_ipv6")
    assert v6_off.stdout.text == "1\n", v6_off.stderr.text
    rules = await online.exec(sandbox.sandbox_id, "ip rule; ip rule del pref 200")
    for network in ("169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"):
        assert f"to {network} prohibit" in rules.stdout.text, rules.stdout.text
    assert "to 10.0.2.3 lookup main" in rules.stdout.text
    assert rules.exit_code != 0 and "Operation not permitted" in rules.stderr.text


async def test_the_hosts_own_address_is_refused_though_it_listens(
    online: SandboxService,
    settings: Settings,
    host_listener: tuple[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, port = host_listener
    target = [[socket.AF_INET, socket.SOCK_STREAM, address, port]]
    sandbox = await online.create(network=True)
    outcome, seconds = (await probe(online, sandbox.sandbox_id, target))[address]
    assert outcome == "EACCES" and seconds < 0.5
    # Positive control: without the rules the same probe reaches the listener, so the refusal
    # above is the rules' doing and not a probe that cannot connect anywhere.
    monkeypatch.setattr(egress, "PRIVATE_V4", ())
    monkeypatch.setattr(egress, "host_networks", lambda: [])
    unguarded = SandboxService(settings, StateStore(settings.state_path))
    reached = await probe(unguarded, sandbox.sandbox_id, target)
    assert reached[address][0] == "hello from the host"


def test_the_rules_cover_every_local_range() -> None:
    batch = egress.rules(["192.0.2.2/32", "192.0.2.0/24"])
    lines = batch.splitlines()
    assert lines[0] == "rule add to 10.0.2.3/32 lookup main pref 100"
    expected = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12"]
    expected += ["192.168.0.0/16", "192.0.2.2/32", "192.0.2.0/24"]
    assert lines[1:] == [f"rule add to {network} prohibit pref 200" for network in expected]
