"""Slow clients are cut off: a request must arrive whole within the read timeout (slowloris)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from helpers import free_port, running, server_cmd, test_env, wait_for_http

READ_TIMEOUT_S = 1.5
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n"


@pytest.fixture(scope="module")
def server_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    home = tmp_path_factory.mktemp("slow-home")
    port = free_port()
    env = test_env(home, MLINTERN_HTTP_REQUEST_READ_TIMEOUT_S=str(READ_TIMEOUT_S))
    cmd = server_cmd("--transport", "http", "--port", str(port))
    with running(cmd, env, stderr=subprocess.DEVNULL) as proc:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        yield port


def dribble(port: int, data: bytes, gap_s: float) -> tuple[bool, bytes, float]:
    """Send ``data`` a byte at a time; (was the connection closed early, reply, seconds)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for byte in data:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return True, b"", time.monotonic() - started
            time.sleep(gap_s)
            sock.settimeout(0.0)
            try:
                early = sock.recv(4096)
            except BlockingIOError:
                early = None
            except OSError:
                return True, b"", time.monotonic() - started
            finally:
                sock.settimeout(10)
            if early is not None:
                return early == b"", early, time.monotonic() - started
        sock.settimeout(5)
        return False, sock.recv(4096), time.monotonic() - started


def test_a_client_sending_headers_a_byte_at_a_time_is_cut_off(server_port: int) -> None:
    closed, reply, seconds = dribble(server_port, REQUEST, gap_s=0.3)  # needs ~18 s in all
    assert closed and reply == b""
    assert READ_TIMEOUT_S - 0.2 < seconds < READ_TIMEOUT_S + 2.0
    # Meanwhile and afterwards, others are served.
    assert httpx.get(f"http://127.0.0.1:{server_port}/healthz").status_code == 200


def test_a_slow_but_timely_client_is_served(server_port: int) -> None:
    closed, reply, _ = dribble(server_port, REQUEST, gap_s=0.01)  # positive control: ~0.6 s
    assert not closed
    assert reply.startswith(b"HTTP/1.1 200")


def test_an_idle_connection_is_closed(server_port: int) -> None:
    with socket.create_connection(("127.0.0.1", server_port), timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, not by our timeout
        assert time.monotonic() - started < READ_TIMEOUT_S + 2.0
