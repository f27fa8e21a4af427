"""The dashboard in a real headless chromium against a real mlintern-server over HTTP: login,
jobs, curves (zoom, log scale, NaN marks), cancelling a job, and answering a delegated run's
approval so the run goes on. Screenshots land in the test's tmp dir (and tests/artifacts/)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fakes.llm import ScriptedLLM, call, calls, say
from fastmcp import Client
from helpers import job_folder
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from tasks.taskkit import write_agent_config

from views.browser import TOKEN, chromium, console_errors, http_server, wait_until

METRICS_JOB = (
    "import json, os\n"
    "out = open(os.path.join(os.environ['MLINTERN_METRICS_DIR'], 'metrics.jsonl'), 'w')\n"
    "for step in range(200):\n"
    "    loss = 2.0 / (step + 1) if step < 150 else float('nan')\n"
    "    out.write(json.dumps({'step': step, 'train/loss': loss}) + '\\n')\n"
    "out.close()\n"
)
HOSTILE_NAME = "<img src=x onerror=\"document.title='pwned'\">"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def shot(driver: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


async def tool(c: Client, tool_name: str, **arguments: Any) -> dict[str, Any]:
    result = await c.call_tool(tool_name, arguments)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def run_reaches(c: Client, run_id: str, status: str, patience_s: float = 60) -> dict:
    deadline = time.monotonic() + patience_s
    while (report := await tool(c, "ml_task", run_id=run_id))["status"] != status:
        assert time.monotonic() < deadline, f"run {run_id} never reached {status}: {report}"
        await asyncio.sleep(0.1)
    return report


def text(driver: Any, css: str) -> str:
    return fresh(
        driver, lambda: " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))
    )


def click(driver: Any, css: str) -> None:
    fresh(driver, lambda: driver.find_element(By.CSS_SELECTOR, css).click())


def fresh(driver: Any, action: Callable[[], Any]) -> Any:
    """Run ``action`` again if a live re-render replaced the element under it."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(20):
        try:
            return action()
        except StaleElementReferenceException:
            time.sleep(0.05)
    return action()


async def test_dashboard_pages_jobs_curves_cancel_and_an_approval(
    tmp_path: Path, llm: ScriptedLLM
) -> None:
    llm.add(
        calls(call("jobs_submit", {"command": "echo approved-from-dashboard", "name": "asked"})),
        say("Submitted the job the user approved."),
    )
    config = write_agent_config(tmp_path / "agent.json", llm)
    log = tmp_path / "server.log"
    with http_server(tmp_path / "home", log, MLINTERN_AGENT_CONFIG=str(config)) as (base, login):
        # Nothing but /healthz without credentials; the bearer token works for the API too.
        await asyncio.to_thread(check_auth, base)

        async with Client(f"{base}/mcp", auth=TOKEN) as c:
            work = job_folder(tmp_path / "work")  # an isolated command job sees its working dir
            (work / "curves.py").write_text(METRICS_JOB)
            submitted = await tool(
                c, "jobs_submit", command="python3 curves.py", working_dir=str(work), name="curves"
            )
            metrics_job = submitted["job_id"]
            await tool(c, "jobs_status", job_id=metrics_job, wait_s=55)
            sleeper = (await tool(c, "jobs_submit", command="sleep 300", name="sleeper"))["job_id"]
            entry: dict[str, Any] = {"observation": "train/loss NaN from step 150"}
            entry |= {"decision": "lower the lr", "job_ids": [metrics_job]}
            await tool(c, "experiments_journal", experiment="nightly", action="append", entry=entry)
            run = await tool(c, "run_ml_task", task="Run `echo hi` as a job.", detach=True)
            run_id = run["run_id"]
            await run_reaches(c, run_id, "awaiting_approval")

            loop = asyncio.get_running_loop()

            def submit_elsewhere() -> str:  # as another host would, while the page is open
                job = tool(c, "jobs_submit", command="true", name=HOSTILE_NAME)
                return asyncio.run_coroutine_threadsafe(job, loop).result(30)["job_id"]

            driver = await asyncio.to_thread(chromium)
            try:
                await asyncio.to_thread(
                    drive,
                    driver,
                    tmp_path,
                    base,
                    login,
                    (metrics_job, sleeper, run_id),
                    submit_elsewhere,
                )
                errors = console_errors(driver)
            finally:
                driver.quit()
            assert errors == []
            # The state behind the page: the job is cancelled, the run went on and finished.
            assert (await tool(c, "jobs_status", job_id=sleeper))["status"] == "cancelled"
            status = await run_reaches(c, run_id, "completed")
            assert status["summary"] == "Submitted the job the user approved."
            names = [j["name"] for j in (await tool(c, "jobs_list"))["jobs"]]
            assert "asked" in names
    # The login link worked exactly once.
    assert "login" in log.read_text()


def check_auth(base: str) -> None:
    assert httpx.get(f"{base}/api/overview").status_code == 401
    assert httpx.get(f"{base}/").status_code == 401
    assert httpx.get(f"{base}/healthz").status_code == 200
    with_token = httpx.get(f"{base}/api/overview", headers={"Authorization": f"Bearer {TOKEN}"})
    assert with_token.status_code == 200 and with_token.json()["jobs"] == []
    bad = httpx.get(f"{base}/api/overview", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401


def drive(
    driver: Any,
    tmp_path: Path,
    base: str,
    login: str,
    ids: tuple[str, str, str],
    submit_elsewhere: Callable[[], str],
) -> None:
    metrics_job, sleeper, run_id = ids
    driver.get(login)
    cookie = driver.get_cookie("mlintern_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert httpx.get(login, follow_redirects=False).status_code == 403  # used up
    wait_until(
        lambda: len(driver.find_elements(By.CSS_SELECTOR, "[data-role=jobs] tr[data-job]")) == 2,
        "jobs",
    )
    assert run_id in text(driver, "[data-role=waiting]")
    wait_until(lambda: "live" in text(driver, "#live"), "the event stream")
    shot(driver, tmp_path, "dashboard-overview")
    # A job started elsewhere appears without a reload: the server pushed "changed".
    pushed = submit_elsewhere()
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, f"tr[data-job='{pushed}']"), "push")
    # Its hostile name (job names come from the model) shows as text and runs nothing.
    row = text(driver, f"tr[data-job='{pushed}']")
    assert HOSTILE_NAME in row
    assert driver.title == "mlintern dashboard" and not driver.find_elements(By.TAG_NAME, "img")

    driver.get(f"{base}/#/experiment/{metrics_job}")
    wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, ".chart path.line"),
        "the curve",
        driver=driver,
    )
    assert driver.find_elements(By.CSS_SELECTOR, ".nan-mark")  # the NaN from step 150
    before = text(driver, ".x-tick")

    def drag() -> None:
        svg = driver.find_element(By.CSS_SELECTOR, ".chart-svg svg")
        chain = ActionChains(driver).move_to_element_with_offset(svg, -200, 0)
        chain.click_and_hold().move_by_offset(150, 0).release().perform()

    def zoomed() -> bool:  # drag again if a live re-render replaced the chart mid-drag
        fresh(driver, drag)
        return text(driver, ".x-tick") != before

    wait_until(zoomed, "the zoom", driver=driver)

    def hover() -> str:  # values under the pointer (again if a live re-render reset the tip)
        svg = driver.find_element(By.CSS_SELECTOR, ".chart-svg svg")
        ActionChains(driver).move_to_element(svg).move_by_offset(5, 0).perform()
        return text(driver, ".chart-tip")

    wait_until(lambda: "step" in fresh(driver, hover), "hover values")
    click(driver, "[data-role=log]")
    assert fresh(driver, lambda: "on" in driver.find_element(By.CSS_SELECTOR, "[data-role=log]").get_attribute("class"))  # fmt: skip
    shot(driver, tmp_path, "dashboard-experiment")

    driver.get(f"{base}/#/journals")
    wait_until(lambda: "nightly" in text(driver, ".journals"), "the journals page")
    click(driver, ".journals a")
    wait_until(lambda: "lower the lr" in text(driver, "[data-role=journal]"), "the journal")
    assert metrics_job in text(driver, "[data-role=journal]")

    driver.get(f"{base}/#/job/{metrics_job}")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-role=sparkline] path"), "spark")
    assert "train/loss" in text(driver, "[data-role=sparkline]")
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-role=cancel]")  # it has finished

    driver.get(f"{base}/#/job/{sleeper}")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-role=cancel]"), "cancel button")
    click(driver, "[data-role=cancel]")
    wait_until(lambda: "cancelled" in text(driver, "[data-role=badge]"), "the cancelled badge")
    shot(driver, tmp_path, "dashboard-job")

    driver.get(f"{base}/#/run/{run_id}")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-role=approve]"), "approve")
    assert "jobs_submit" in text(driver, ".pending h3")
    assert "approved-from-dashboard" in text(driver, ".pending pre")
    shot(driver, tmp_path, "dashboard-approval")
    click(driver, "[data-role=approve]")
    wait_until(lambda: "completed" in text(driver, "[data-role=badge]"), "the run to finish", 60)
    assert "Submitted the job" in text(driver, "[data-role=summary]")
    assert "jobs_submit" in text(driver, "[data-role=timeline]")
    # Control: the same text parsed as HTML does make an element, so the check above can fail.
    # (in a blank page without the dashboard's CSP, into an inert template: nothing runs)
    driver.get("about:blank")
    parsed = (
        "const t = document.createElement('template'); t.innerHTML = arguments[0];"
        "return t.content.querySelectorAll('img').length"
    )
    assert driver.execute_script(parsed, HOSTILE_NAME) == 1
