"""Streamable HTTP: bearer auth, DNS-rebinding guard, body cap, health, both protocol eras."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from helpers import ERAS, REPO, free_port, running, server_cmd, test_env, wait_for_http

TOKEN = "test-token-0123456789abcdef"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("http-home")
    port = free_port()
    cmd = server_cmd("--transport", "http", "--port", str(port), "--auth-token", TOKEN)
    env = test_env(home, MLINTERN_MAX_REQUEST_BYTES="65536")
    with running(cmd, env, stderr=subprocess.DEVNULL) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/healthz", proc=proc)
        yield base


def test_healthz_needs_no_token(http_server: str) -> None:
    response = httpx.get(http_server + "/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_missing_token_is_401(http_server: str) -> None:
    response = httpx.post(http_server + "/mcp", json=INIT, headers=MCP_HEADERS)
    assert response.status_code == 401


def test_wrong_token_is_401(http_server: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": "Bearer not-the-token"}
    response = httpx.post(http_server + "/mcp", json=INIT, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize("era", ERAS)
async def test_right_token_lists_and_calls_tools(http_server: str, era: str) -> None:
    transport = StreamableHttpTransport(http_server + "/mcp", auth=TOKEN)
    async with Client(transport, mode=era) as client:
        names = {tool.name for tool in await client.list_tools()}
        assert {"plan_update", "plan_get"} <= names
        result = await client.call_tool(
            "plan_update", {"plan_id": f"http-{era}", "todos": [{"id": "1", "content": "x"}]}
        )
        assert result.structured_content["plan_id"] == f"http-{era}"


def test_foreign_origin_is_refused(http_server: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"}
    response = httpx.post(http_server + "/mcp", json=INIT, headers=headers)
    assert response.status_code == 403


def test_rebinding_host_header_is_refused(http_server: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}", "Host": "attacker.example"}
    response = httpx.post(http_server + "/mcp", json=INIT, headers=headers)
    assert response.status_code in (400, 421)


def test_oversized_body_is_413(http_server: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    big = {**INIT, "params": {**INIT["params"], "pad": "x" * 100_000}}
    response = httpx.post(http_server + "/mcp", json=big, headers=headers)
    assert response.status_code == 413
    error = response.json()
    assert error["jsonrpc"] == "2.0" and error["id"] is None
    assert error["error"]["code"] == -32600
    assert "over 65536 bytes" in error["error"]["message"]
    assert "MLINTERN_MAX_REQUEST_BYTES" in error["error"]["message"]
    # ...and the server is still serving.
    assert httpx.get(http_server + "/healthz").status_code == 200


def test_public_bind_without_token_refuses_to_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        server_cmd("--transport", "http", "--host", "0.0.0.0", "--port", str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
        env=test_env(tmp_path / "home"),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert "without authentication" in proc.stderr
    assert "MLINTERN_AUTH_TOKEN" in proc.stderr and "--auth-token" in proc.stderr


@pytest.mark.parametrize(
    "body", [{"foo": 1}, [INIT], "a string", {"jsonrpc": "2.0", "id": 1}, {"method": "ping"}]
)
def test_json_that_is_not_jsonrpc_is_an_invalid_request(http_server: str, body: object) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    response = httpx.post(http_server + "/mcp", json=body, headers=headers)
    assert response.status_code == 400
    error = response.json()
    assert error["id"] is None and error["error"]["code"] == -32600
    assert error["error"]["message"].startswith("Invalid request: the body is JSON but not")
    assert "validation error" not in error["error"]["message"].lower()


def test_a_body_that_is_not_json_is_a_parse_error(http_server: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    response = httpx.post(http_server + "/mcp", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700


def test_a_real_request_still_goes_through_the_shape_check(http_server: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    response = httpx.post(http_server + "/mcp", json=INIT, headers=headers)
    assert response.status_code == 200
    assert "mlintern" in response.text  # the initialize result names the server


async def test_the_server_card_describes_what_the_server_lists(http_server: str) -> None:
    async with httpx.AsyncClient() as http:  # no token needed
        response = await http.get(http_server + "/.well-known/mcp/server-card.json")
    assert response.status_code == 200
    card = response.json()
    assert card["name"] == "io.github.mlintern/mlintern"
    (remote,) = card["remotes"]
    assert remote["type"] == "streamable-http" and remote["url"] == http_server + "/mcp"
    assert remote["headers"][0]["name"] == "Authorization" and remote["headers"][0]["isSecret"]
    assert TOKEN not in response.text
    carded = [
        t["name"] for kit in card["_meta"]["io.github.mlintern/toolsets"] for t in kit["tools"]
    ]
    transport = StreamableHttpTransport(http_server + "/mcp", auth=TOKEN)
    async with Client(transport) as c:
        listed = [t.name for t in await c.list_tools()]
    assert carded == listed


def test_the_committed_server_json_is_the_generated_one() -> None:
    from server.app import package_version
    from server.discovery import registry_server_json

    committed = json.loads((REPO / "server.json").read_text())
    assert committed == registry_server_json(package_version()), (
        "server.json is stale: regenerate it with `python -m server.discovery > server.json`"
    )
    assert len(committed["description"]) <= 100  # the registry's limit
