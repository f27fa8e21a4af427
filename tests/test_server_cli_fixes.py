"""Small first-hour fixes in the server: plain list settings, a busy port, missing packages."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastmcp.exceptions import ToolError
from helpers import REPO, free_port, test_env

from server.errors import UserError
from server.extras import require
from server.settings import Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a.example", ["a.example"]),
        ("a.example, b.example:8080", ["a.example", "b.example:8080"]),
        ('["a.example", "b.example"]', ["a.example", "b.example"]),
        ("", []),
    ],
)
def test_list_settings_from_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]
) -> None:
    monkeypatch.setenv("MLINTERN_ALLOWED_HOSTS", raw)
    monkeypatch.setenv("MLINTERN_ALLOWED_ORIGINS", raw)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.allowed_hosts == expected
    assert settings.allowed_origins == expected


def test_list_settings_from_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("MLINTERN_ALLOWED_HOSTS=a.example,b.example\nMLINTERN_TOOLSETS=hub, jobs\n")
    settings = Settings(_env_file=dotenv)  # type: ignore[call-arg]
    assert settings.allowed_hosts == ["a.example", "b.example"]
    assert settings.toolsets == ["hub", "jobs"]


def test_server_starts_with_plain_allowed_hosts(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "--list-toolsets"],
        env=test_env(tmp_path, PYTHONPATH=str(REPO), MLINTERN_ALLOWED_HOSTS="a.example"),
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "SettingsError" not in done.stderr


def test_busy_port_errors_before_any_listening_line(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", "--transport", "http", "--port", str(port)],
            env=test_env(tmp_path, PYTHONPATH=str(REPO)),
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 2
    assert "listening" not in done.stderr
    assert done.stderr.startswith(f"mlintern-server: cannot listen on 127.0.0.1:{port}: ")
    assert "--port" in done.stderr


def test_require_names_the_extra() -> None:
    with pytest.raises(UserError) as caught:
        require("trackio_not_a_real_module_xyz", "Reading trackio runs")
    assert "Reading trackio runs needs the Python package" in str(caught.value)
    assert require("json", "positive control").dumps([]) == "[]"


async def test_missing_module_inside_a_tool_is_an_actionable_error(settings: Settings) -> None:
    """A ModuleNotFoundError deep in a toolkit names the package and its extra, not 'a bug'."""
    from server.toolkit import _as_tool_result

    def needs_ray() -> None:
        raise ModuleNotFoundError("No module named 'ray'", name="ray")

    wrapped = _as_tool_result(needs_ray, "jobs_submit", settings)
    with pytest.raises(ToolError) as caught:
        await wrapped()
    assert str(caught.value) == (
        "jobs_submit needs the Python package 'ray', which is not installed: "
        "pip install 'mlintern[ray]' (or: pip install 'ray[default]')."
    )
