"""The dashboard's guards without a browser: who may read, what a page may call, and how a
cross-site request is refused; each refusal has a positive control beside it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from helpers import running, server_cmd, test_env
from starlette.testclient import TestClient

from server.app import build_server
from server.dashboard import Dashboard
from server.settings import Settings
from views.browser import wait_until


def dashboard_client(
    tmp_path: Path, toolsets: tuple[str, ...] = ("jobs",)
) -> tuple[TestClient, Dashboard]:
    settings = Settings(home=tmp_path / "home", toolsets=list(toolsets), _env_file=None)  # type: ignore[call-arg]
    dashboard = Dashboard(build_server(settings), settings)
    from starlette.applications import Starlette

    return TestClient(Starlette(routes=dashboard.routes())), dashboard


def test_a_login_key_works_once_and_only_a_session_or_the_token_reads(tmp_path: Path) -> None:
    client, dashboard = dashboard_client(tmp_path)
    assert client.get("/api/overview").status_code == 401
    assert client.get("/static/views.js").status_code == 401
    assert client.get("/login?key=guessed").status_code == 403
    key = dashboard.login_link("http://x").rsplit("=", 1)[1]
    first = client.get(f"/login?key={key}", follow_redirects=False)
    assert first.status_code == 303
    assert re.search(r"mlintern_session=\S+; HttpOnly; Path=/; SameSite=strict", first.headers["set-cookie"])  # fmt: skip
    assert client.get("/api/overview").status_code == 200  # the cookie is sent from now on
    client.cookies.clear()
    assert client.get(f"/login?key={key}").status_code == 403  # used up
    assert client.get("/api/overview").status_code == 401


def test_a_page_may_only_cancel_or_approve_and_only_with_json(tmp_path: Path) -> None:
    client, dashboard = dashboard_client(tmp_path, ("jobs", "tasks"))
    key = dashboard.login_link("http://x").rsplit("=", 1)[1]
    client.get(f"/login?key={key}")
    submit = {"tool": "jobs_submit", "arguments": {"command": "touch /tmp/pwned"}}
    refused = client.post("/api/call", json=submit)
    assert refused.status_code == 400 and "only call" in refused.json()["error"]
    assert client.get("/api/overview").json()["jobs"] == []  # nothing was submitted
    # A cross-site form post (no preflight) is refused before any tool runs.
    form = client.post("/api/call", data={"tool": "jobs_cancel"})
    assert form.status_code == 415
    # Positive control: an allowed tool runs, and its own error comes back as the message.
    cancel = client.post("/api/call", json={"tool": "jobs_cancel", "arguments": {"job_id": "j-0000000000"}})  # fmt: skip
    assert cancel.status_code == 400 and "jobs_list" in cancel.json()["error"]
    # ml_task serves the approval only: a page may not cancel a run or page through it.
    for action in ("cancel", "status", None):
        arguments = {"run_id": "run-x"} | ({"action": action} if action else {})
        other = client.post("/api/call", json={"tool": "ml_task", "arguments": arguments})
        assert other.status_code == 400
        assert other.json()["error"] == "ml_task may only approve here", action
    approve = {"run_id": "run-x", "action": "approve", "decisions": [{"call_id": "c", "action": "approve"}]}  # fmt: skip
    passed = client.post("/api/call", json={"tool": "ml_task", "arguments": approve})
    assert passed.status_code == 400  # positive control: the tool itself ran, and answered
    assert "No run 'run-x'" in passed.json()["error"]
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/dashboard.js">' in page.text


def test_mlintern_server_dashboard_serves_loopback_with_a_login_link(tmp_path: Path) -> None:
    log = tmp_path / "dashboard.log"
    cmd = server_cmd("dashboard", "--no-browser")
    with log.open("w") as sink, running(cmd, test_env(tmp_path / "home"), stderr=sink) as proc:
        found = wait_until(
            lambda: (
                re.search(
                    r"works once\): (http://127\.0\.0\.1:\d+)/login\?key=\S+", log.read_text()
                )
                or proc.poll() is not None
            ),
            "the login link",
            60,
        )
        assert not isinstance(found, bool), log.read_text()
        with httpx.Client() as browser:
            assert browser.get(f"{found.group(1)}/api/overview").status_code == 401
            link = re.search(r"http://\S+/login\?key=\S+", found.group(0))
            assert link is not None
            page = browser.get(link.group(0), follow_redirects=True)
            assert page.status_code == 200 and "mlintern dashboard" in page.text
            assert browser.get(f"{found.group(1)}/api/overview").json()["jobs"] == []


async def test_the_bundled_agent_never_offers_the_views_own_tools_to_its_model(
    tmp_path: Path,
) -> None:
    from agent.mcp_connections import MCPConnections

    settings = Settings(home=tmp_path / "home", toolsets=["jobs"], _env_file=None)  # type: ignore[call-arg]
    server = build_server(settings)
    listed = {tool.name for tool in await server.list_tools()}
    assert "views_job" in listed  # served (for hosts with MCP Apps) ...
    async with MCPConnections() as connections:
        await connections.add_in_process("mlintern", server)
        assert "jobs_status" in connections.tools
        assert "views_job" not in connections.tools  # ... but app-only: never the model's
