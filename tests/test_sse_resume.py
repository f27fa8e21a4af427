"""A client whose SSE stream drops in the middle of a long call resumes it and misses nothing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import free_port, running, server_cmd, test_env, wait_for_http

TOKEN = "resume-token-0123456789abcdef"
VERSION = "2025-11-25"
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Authorization": f"Bearer {TOKEN}",
    "MCP-Protocol-Version": VERSION,
}


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    cmd = server_cmd("--transport", "http", "--port", str(port), "--auth-token", TOKEN)
    env = test_env(tmp_path / "home", MLINTERN_SSE_RETRY_MS="700", MLINTERN_TOOLSETS="jobs")
    with running(cmd, env, stderr=subprocess.DEVNULL) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/healthz", proc=proc)
        yield base + "/mcp", tmp_path / "home"


def sse_events(response: httpx.Response) -> Iterator[dict]:
    """Parse an SSE body into events: {"id": ..., "data": ..., "retry": ...}."""
    event: dict = {}
    for line in response.iter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        field, _, value = line.partition(":")
        event[field] = value.removeprefix(" ")


def rpc(client: httpx.Client, url: str, session: str, id_: int, method: str, params: dict) -> dict:
    body = {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}
    headers = {**HEADERS, "Mcp-Session-Id": session}
    with client.stream("POST", url, json=body, headers=headers) as response:
        for event in sse_events(response):
            if event.get("data"):
                message = json.loads(event["data"])
                if message.get("id") == id_:
                    return message
    raise AssertionError(f"no answer to {method}")


def open_session(client: httpx.Client, url: str) -> str:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": "resume-test", "version": "0"},
        },
    }
    response = client.post(url, json=init, headers=HEADERS)
    session = response.headers["mcp-session-id"]
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    client.post(url, json=initialized, headers={**HEADERS, "Mcp-Session-Id": session})
    return session


def test_a_dropped_stream_resumes_with_last_event_id(http_server: tuple[str, Path]) -> None:
    url, home = http_server
    with httpx.Client(timeout=httpx.Timeout(30.0)) as client:
        session = open_session(client, url)
        submitted = rpc(
            client, url, session, 1, "tools/call",
            {"name": "jobs_submit", "arguments": {"command": "sleep 3; echo finished-ok"}},
        )  # fmt: skip
        job_id = submitted["result"]["structuredContent"]["job_id"]

        # A long call with progress: read the priming event and the first progress, then drop.
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "jobs_status",
                "arguments": {"job_id": job_id, "wait_s": 30},
                "_meta": {"progressToken": "wait-1"},
            },
        }
        seen: list[dict] = []
        with client.stream(
            "POST", url, json=call, headers={**HEADERS, "Mcp-Session-Id": session}
        ) as response:
            for event in sse_events(response):
                seen.append(event)
                if event.get("data") and "notifications/progress" in event["data"]:
                    break
        priming = seen[0]
        assert priming["data"] == "" and priming["id"] and priming["retry"] == "700"
        assert not any(json.loads(e["data"]).get("id") == 2 for e in seen if e.get("data"))

        # Reconnect as the spec says: GET with the last event id seen.
        resume_headers = {
            **HEADERS,
            "Mcp-Session-Id": session,
            "Last-Event-ID": seen[-1]["id"],
            "Accept": "text/event-stream",
        }
        replayed: list[dict] = []
        with client.stream("GET", url, headers=resume_headers) as response:
            assert response.status_code == 200
            for event in sse_events(response):
                replayed.append(event)
                if event.get("data") and json.loads(event["data"]).get("id") == 2:
                    break
    final = json.loads(replayed[-1]["data"])
    assert final["result"]["structuredContent"]["status"] == "completed"
    seen_ids = {e["id"] for e in seen if "id" in e}
    assert not seen_ids & {e["id"] for e in replayed if "id" in e}, "nothing is sent twice"

    # The events rest in the state DB, which is bounded and holds no unredacted secret.
    with sqlite3.connect(home / "state.sqlite3") as db:
        stored = db.execute("SELECT COUNT(*) FROM sse_events").fetchone()[0]
    assert stored >= len(seen) + len(replayed)


def test_an_unknown_event_id_is_not_replayed(http_server: tuple[str, Path]) -> None:
    url, _ = http_server
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client:
        session = open_session(client, url)
        headers = {
            **HEADERS,
            "Mcp-Session-Id": session,
            "Last-Event-ID": "0" * 32,
            "Accept": "text/event-stream",
        }
        with client.stream("GET", url, headers=headers) as response:
            events = []
            for event in sse_events(response):
                events.append(event)
                break
    assert not any(e.get("data") for e in events)
