"""The MCP Apps views in a real headless chromium, inside a host-bridge stand-in page whose
tools/call requests the test forwards to the real server: each view renders from its tool's
result, and the job view cancels a job through the bridge (so a host's approval would apply)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.llm import ScriptedLLM, call, calls, say
from fastmcp import Client
from helpers import job_folder
from mcp.types import TextResourceContents
from selenium.webdriver.common.by import By
from tasks.taskkit import write_agent_config

from server.app import build_server
from server.settings import Settings
from views.browser import chromium, console_errors
from views.test_dashboard import fresh, run_reaches, shot, tool

CONFIGURED_JOB = (
    "import json, os\n"
    "lr = json.load(open(os.environ['MLINTERN_CONFIG_FILE']))['lr']\n"
    "out = open(os.path.join(os.environ['MLINTERN_METRICS_DIR'], 'metrics.jsonl'), 'w')\n"
    "for step in range(200):\n"
    "    loss = float('nan') if lr > 1 and step >= 150 else 2.0 / (step + 1)\n"
    "    out.write(json.dumps({'step': step, 'train/loss': loss}) + '\\n')\n"
    "out.close()\n"
)
PREFERENCES = "```yaml\nmetrics:\n  train/loss:\n    goal: minimize\n    threshold: 0.05\n```\n"
HOST_PAGE = Path(__file__).with_name("bridge_host.html")


class Host:
    """Drives the stand-in page: loads a view for a tool result, forwards its tool calls."""

    def __init__(self, driver: Any, client: Client):
        self.driver = driver
        self.client = client
        self.forwarded: list[str] = []

    async def show(self, tool_name: str, arguments: dict[str, Any]) -> None:
        listed = {t.name: t for t in await self.client.list_tools()}
        uri = (listed[tool_name].meta or {})["ui"]["resourceUri"]
        [resource] = await self.client.read_resource(uri)
        result = await self.client.call_tool_mcp(tool_name, arguments)
        payload = {
            "arguments": arguments,
            "result": result.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        self.driver.switch_to.default_content()
        self.driver.get(HOST_PAGE.as_uri())
        assert isinstance(resource, TextResourceContents)
        self.driver.execute_script(
            "window.load(arguments[0], arguments[1])", resource.text, payload
        )

    async def until(self, check: Any, what: str, patience_s: float = 30) -> Any:
        """Forward the view's tool calls to the server until ``check()`` inside the view holds."""
        deadline = time.monotonic() + patience_s
        while time.monotonic() < deadline:
            self.driver.switch_to.default_content()
            for request in self.driver.execute_script("return window.takeCalls()"):
                self.forwarded.append(request["name"])
                result = await self.client.call_tool_mcp(request["name"], request["arguments"])
                dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
                self.driver.execute_script("window.answer(arguments[0], arguments[1])", request["id"], dumped)  # fmt: skip
            self.driver.switch_to.frame(self.driver.find_element(By.ID, "view"))
            value = check()
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}: {self.driver.find_element(By.TAG_NAME, 'body').text!r}")  # fmt: skip

    def css(self, selector: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    async def until_badge(self, word: str, what: str, patience_s: float = 30) -> None:
        """Forward calls until the view's status badge says ``word``."""
        badge = lambda: word in " ".join(e.text for e in self.css("[data-role=badge]"))  # noqa: E731
        await self.until(badge, what, patience_s)


async def test_each_view_renders_in_a_host_and_acts_through_its_bridge(
    tmp_path: Path, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm.add(
        calls(call("jobs_submit", {"command": "echo approved-in-view", "name": "asked"})),
        say("Done after the approval."),
    )
    monkeypatch.setenv("MLINTERN_AGENT_CONFIG", str(write_agent_config(tmp_path / "a.json", llm)))
    settings = Settings(
        home=tmp_path / "home",
        toolsets=["plan", "jobs", "experiments", "tasks"],
        _env_file=None,  # type: ignore[call-arg]
    )
    work = job_folder(tmp_path / "work")  # an isolated command job sees its working dir
    (work / "curves.py").write_text(CONFIGURED_JOB)
    config = work / "config.json"
    config.write_text('{"lr": 10.0}')
    async with Client(build_server(settings)) as c:
        first = await tool(
            c,
            "jobs_submit",
            command="python3 curves.py",
            working_dir=str(work),
            config_file=str(config),
        )
        await tool(c, "jobs_status", job_id=first["job_id"], wait_s=55)
        restart = await tool(
            c,
            "experiments_restart",
            job_id=first["job_id"],
            reason="train/loss NaN from step 150 at lr 10",
            config_changes={"lr": 0.01},
            experiment="views-test",
        )
        curves = restart["new_job_id"]
        await tool(c, "jobs_status", job_id=curves, wait_s=55)
        sleeper = (await tool(c, "jobs_submit", command="sleep 300", name="sleeper"))["job_id"]
        run_id = (await tool(c, "run_ml_task", task="Run `echo hi`.", detach=True))["run_id"]
        driver = await asyncio.to_thread(chromium)
        try:
            host = Host(driver, c)
            await host.show("experiments_check", {"source": curves, "preferences": PREFERENCES})
            await host.until(lambda: host.css(".chart path.line"), "the experiment chart")
            assert len(host.css(".chart path.line")) == 2  # the first run and its restart
            assert host.css(".nan-mark")  # the first run's NaN
            assert host.css(".threshold") and "0.05" in host.css(".threshold-label")[0].text
            assert host.css(".restart")
            restarts = host.css("[data-role=restarts]")[0].text
            assert curves in restarts and "lr" in restarts and "NaN from step 150" in restarts
            assert host.css("[data-role=verdict]")[0].text  # the verdict's summary
            driver.switch_to.default_content()
            shot(driver, tmp_path, "app-experiment")

            await host.show("jobs_status", {"job_id": sleeper})
            await host.until(lambda: host.css("[data-role=cancel]"), "the cancel button")
            driver.switch_to.default_content()
            shot(driver, tmp_path, "app-job")
            driver.switch_to.frame(driver.find_element(By.ID, "view"))
            fresh(driver, lambda: host.css("[data-role=cancel]")[0].click())
            await host.until_badge("cancelled", "the cancelled badge")
            assert "jobs_cancel" in host.forwarded  # through the host, not around it

            await host.until(lambda: True, "nothing")
            await run_reaches(c, run_id, "awaiting_approval")
            await host.show("ml_task", {"run_id": run_id})
            await host.until(lambda: host.css("[data-role=approve]"), "the approve button")
            assert "approved-in-view" in host.css(".pending pre")[0].text
            driver.switch_to.default_content()
            shot(driver, tmp_path, "app-approval")
            driver.switch_to.frame(driver.find_element(By.ID, "view"))
            host.css("[data-role=feedback]")[0].send_keys("fine by me")
            host.css("[data-role=approve]")[0].click()
            await host.until_badge("completed", "the run to finish", 60)
            driver.switch_to.default_content()
            errors = console_errors(driver)
        finally:
            driver.quit()
        assert errors == []
        assert host.forwarded.count("ml_task") == 1  # the approval, through the host
        assert (await tool(c, "jobs_status", job_id=sleeper))["status"] == "cancelled"
        status = await tool(c, "ml_task", run_id=run_id)
        assert status["status"] == "completed" and status["summary"] == "Done after the approval."
