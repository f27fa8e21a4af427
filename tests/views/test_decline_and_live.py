"""Declining with feedback, and pages that follow the state without a reload, in a real
headless chromium against a real mlintern-server over HTTP.

One server and one browser for all of it (browser tests are slow): a delegated run declined
from the dashboard, another declined from the approval view (MCP Apps, through the host-bridge
stand-in); each run must receive the decline and its feedback (the scripted model checks the
request it answers) and end without doing the declined call. The dashboard defers a pushed
refresh while someone types feedback and applies it when they leave the field; a job page
follows a job that another host cancels.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fakes.llm import ScriptedLLM, call, calls, request_text, say
from fastmcp import Client
from selenium.webdriver.common.by import By
from tasks.taskkit import write_agent_config

from views.browser import TOKEN, chromium, console_errors, http_server, wait_until
from views.test_apps import Host
from views.test_dashboard import click, run_reaches, shot, text, tool

DASHBOARD_FEEDBACK = "Not on the shared GPU queue: use the staging queue instead."
APP_FEEDBACK = "No, ask me again after the eval finishes."


def declined_then_answers(name: str, feedback: str, answer: str) -> tuple[Any, Any]:
    """The model asks for a job, is told no with ``feedback``, and says it will not run it."""

    def saw_the_feedback(request: dict[str, Any]) -> bool | str:
        seen = request_text(request)
        return feedback in seen or f"the decline's feedback never reached the model: {seen[-600:]}"

    return (
        calls(call("jobs_submit", {"command": f"echo {name}", "name": name})),
        say(answer, expect=saw_the_feedback),
    )


async def test_decline_with_feedback_and_live_pages(tmp_path: Path, llm: ScriptedLLM) -> None:
    llm.add(
        *declined_then_answers("declined-in-dashboard", DASHBOARD_FEEDBACK, "Skipped the job."),
        *declined_then_answers("declined-in-view", APP_FEEDBACK, "Will ask after the eval."),
    )
    config = write_agent_config(tmp_path / "agent.json", llm)
    log = tmp_path / "server.log"
    with http_server(tmp_path / "home", log, MLINTERN_AGENT_CONFIG=str(config)) as (base, login):
        async with Client(f"{base}/mcp", auth=TOKEN) as c:
            sleeper = (await tool(c, "jobs_submit", command="sleep 300", name="sleeper"))["job_id"]
            first = await tool(c, "run_ml_task", task="Run `echo a` as a job.", detach=True)
            await run_reaches(c, first["run_id"], "awaiting_approval")
            loop = asyncio.get_running_loop()

            def elsewhere(tool_name: str, **arguments: Any) -> dict[str, Any]:
                """Another host acting while the page is open."""
                future = asyncio.run_coroutine_threadsafe(tool(c, tool_name, **arguments), loop)
                return future.result(30)

            driver = await asyncio.to_thread(chromium)
            try:
                await asyncio.to_thread(
                    on_dashboard, driver, tmp_path, base, login, first["run_id"], sleeper, elsewhere
                )
                await run_reaches(c, first["run_id"], "completed")
                second = await tool(c, "run_ml_task", task="Run `echo b` as a job.", detach=True)
                await run_reaches(c, second["run_id"], "awaiting_approval")
                host = Host(driver, c)
                await in_the_approval_view(host, tmp_path, second["run_id"])
                driver.switch_to.default_content()
                errors = console_errors(driver)
            finally:
                driver.quit()
            assert errors == []
            # The state behind the pages: each run heard no, said so, and ran nothing.
            for run_id, feedback, answer in (
                (first["run_id"], DASHBOARD_FEEDBACK, "Skipped the job."),
                (second["run_id"], APP_FEEDBACK, "Will ask after the eval."),
            ):
                status = await tool(c, "ml_task", run_id=run_id)
                assert status["status"] == "completed" and status["summary"] == answer
                assert status["declined"] == [
                    {"tool": "jobs_submit", "by": "user", "feedback": feedback}
                ]
            names = [j["name"] for j in (await tool(c, "jobs_list"))["jobs"]]
            assert names.count("sleeper") == 1 and not {"declined-in-dashboard", "declined-in-view"} & set(names)  # fmt: skip
            assert (await tool(c, "jobs_status", job_id=sleeper))["status"] == "cancelled"


def on_dashboard(
    driver: Any, tmp_path: Path, base: str, login: str, run_id: str, sleeper: str, elsewhere: Any
) -> None:
    driver.get(login)
    wait_until(lambda: "live" in text(driver, "#live"), "the event stream", driver=driver)
    driver.execute_script("window.notReloaded = true")  # gone if the page ever reloads

    # A job page follows the job: another host cancels it, the badge changes by itself.
    driver.get(f"{base}/#/job/{sleeper}")
    wait_until(lambda: "running" in text(driver, "[data-role=badge]"), "the running badge", driver=driver)  # fmt: skip
    elsewhere("jobs_cancel", job_id=sleeper)
    wait_until(lambda: "cancelled" in text(driver, "[data-role=badge]"), "the pushed cancel", driver=driver)  # fmt: skip
    shot(driver, tmp_path, "dashboard-live-job")

    # While feedback is being typed a pushed change waits; leaving the field applies it.
    driver.get(f"{base}/#/run/{run_id}")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-role=decline]"), "decline", driver=driver)  # fmt: skip
    field = driver.find_element(By.CSS_SELECTOR, "[data-role=feedback]")
    field.send_keys("half a thought")
    elsewhere("jobs_submit", command="true", name="while-typing")
    wait_until(lambda: "wait while you type" in text(driver, "#live"), "the deferred change", driver=driver)  # fmt: skip
    assert attached(driver, field)  # not re-rendered
    assert field.get_attribute("value") == "half a thought"
    driver.find_element(By.CSS_SELECTOR, "header h2").click()  # leave the field
    wait_until(
        lambda: not attached(driver, field),
        "the deferred refresh",
        driver=driver,
    )
    assert "wait while you type" not in text(driver, "#live")

    # Decline with feedback; the run ends having heard it.
    feedback = driver.find_element(By.CSS_SELECTOR, "[data-role=feedback]")
    feedback.send_keys(DASHBOARD_FEEDBACK)
    shot(driver, tmp_path, "dashboard-decline")
    click(driver, "[data-role=decline]")
    wait_until(lambda: "completed" in text(driver, "[data-role=badge]"), "the run to end", 60, driver)  # fmt: skip
    assert "Skipped the job." in text(driver, "[data-role=summary]")
    assert DASHBOARD_FEEDBACK in text(driver, ".view.approval")
    assert driver.execute_script("return window.notReloaded === true")


def attached(driver: Any, element: Any) -> bool:
    """Whether ``element`` is still in the page (a re-render replaces it)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        return bool(driver.execute_script("return arguments[0].isConnected", element))
    except StaleElementReferenceException:
        return False


async def in_the_approval_view(host: Host, tmp_path: Path, run_id: str) -> None:
    await host.show("ml_task", {"run_id": run_id})
    await host.until(lambda: host.css("[data-role=decline]"), "the decline button")
    host.css("[data-role=feedback]")[0].send_keys(APP_FEEDBACK)
    host.driver.switch_to.default_content()
    shot(host.driver, tmp_path, "app-decline")
    host.driver.switch_to.frame(host.driver.find_element(By.ID, "view"))
    host.css("[data-role=decline]")[0].click()
    await host.until_badge("completed", "the run to end", 60)
    assert host.forwarded.count("ml_task") == 1  # the decline, through the host, once
    shown = " ".join(e.text for e in host.css(".view.approval"))
    assert APP_FEEDBACK in shown and "Will ask after the eval." in shown
