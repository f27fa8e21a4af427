"""A real headless chromium (Debian's, through chromedriver) for the views and dashboard tests,
and an mlintern-server subprocess whose dashboard login link the test reads."""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import free_port, running, server_cmd, test_env, wait_for_http

LOGIN = re.compile(r"dashboard login \(works once\): (\S+)")
TOKEN = "views-test-token-0123456789"


def chromium() -> Any:
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/test.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_until(
    check: Callable[[], Any], what: str, timeout: float = 30.0, driver: Any = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    seen = driver.find_element("css selector", "body").text[:2000] if driver else ""
    logs = console_errors(driver) if driver else []
    raise AssertionError(f"timed out waiting for {what}; page: {seen!r}; console: {logs}")


@contextlib.contextmanager
def http_server(home: Path, log: Path, **env: str) -> Iterator[tuple[str, str]]:
    """Yields (base_url, login_link) of ``mlintern-server --transport http``."""
    port = free_port()
    cmd = server_cmd(
        "--transport", "http", "--port", str(port), "--toolsets", "plan,jobs,experiments,tasks"
    )
    environment = test_env(
        home, MLINTERN_AUTH_TOKEN=TOKEN, LITELLM_LOCAL_MODEL_COST_MAP="True", **env
    )
    with log.open("w") as sink, running(cmd, environment, stderr=sink) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", timeout=60, proc=proc)
        match = wait_until(lambda: LOGIN.search(log.read_text()), "the login link", 10)
        yield base, match.group(1)
