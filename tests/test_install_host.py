"""`mlintern-server install <host>`: absolute executable, merge without losing other servers,
a backup first, --print without writing. Config locations come from HOME / --config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, test_env

PLANTED = "ghp_PLANTEDinstallSECRET0123456789"


def install(home: Path, *args: str, cwd: Path | None = None, **env: str):
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "install", *args],
        env=test_env(home / "state", HOME=str(home), PYTHONPATH=str(REPO), **env),
        cwd=cwd or home,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_claude_desktop_merges_keeps_others_and_backs_up(tmp_path: Path) -> None:
    path = tmp_path / ".config/Claude/claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    before = {"mcpServers": {"other": {"command": "/bin/other"}}, "theme": "dark"}
    path.write_text(json.dumps(before))
    done = install(tmp_path, "claude-desktop", "--toolsets", "jobs,experiments", "--env",
                   f"GITHUB_TOKEN={PLANTED}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = json.loads(path.read_text())
    assert config["theme"] == "dark"
    assert config["mcpServers"]["other"] == {"command": "/bin/other"}
    entry = config["mcpServers"]["mlintern"]
    assert Path(entry["command"]).is_absolute() and Path(entry["command"]).exists()
    assert entry["args"][-2:] == ["--toolsets", "jobs,experiments"]
    assert entry["env"] == {"GITHUB_TOKEN": PLANTED}
    assert json.loads(path.with_name(path.name + ".bak").read_text()) == before
    assert done.stdout.startswith(f"added 'mlintern' in {path}")
    assert PLANTED not in done.stdout + done.stderr
    # a second run replaces our entry and still keeps the other server
    again = install(tmp_path, "claude-desktop")
    assert again.stdout.startswith("replaced 'mlintern'")
    config = json.loads(path.read_text())
    assert set(config["mcpServers"]) == {"other", "mlintern"}
    assert "--toolsets" not in config["mcpServers"]["mlintern"]["args"]


def test_print_writes_nothing_and_hides_credentials(tmp_path: Path) -> None:
    done = install(tmp_path, "cursor", "--print", "--read-only", "--env", f"GITHUB_TOKEN={PLANTED}",
                   "--env", "MLINTERN_MAX_OUTPUT_CHARS=5000")  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    entry = printed["mcpServers"]["mlintern"]
    assert entry["env"] == {
        "GITHUB_TOKEN": "<your GITHUB_TOKEN>",
        "MLINTERN_MAX_OUTPUT_CHARS": "5000",
    }
    assert entry["args"] == ["--read-only"] or entry["args"][-1] == "--read-only"
    assert PLANTED not in done.stdout
    assert not (tmp_path / ".cursor").exists()


@pytest.mark.parametrize(
    ("host", "relative", "key", "typed"),
    [
        ("cursor", ".cursor/mcp.json", "mcpServers", False),
        ("claude-code", ".claude.json", "mcpServers", True),
        ("vscode", "project/.vscode/mcp.json", "servers", True),
    ],
)
def test_each_host_writes_its_own_file(
    tmp_path: Path, host: str, relative: str, key: str, typed: bool
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    done = install(tmp_path, host, cwd=project)
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / relative).read_text())
    entry = config[key]["mlintern"]
    assert Path(entry["command"]).is_absolute()
    assert ("type" in entry) is typed
    assert ((tmp_path / relative).stat().st_mode & 0o777) == 0o600


def test_invalid_existing_config_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "custom.json"
    path.write_text("{ not json")
    done = install(tmp_path, "cursor", "--config", str(path))
    assert done.returncode == 2
    assert "is not valid JSON" in done.stderr and "Nothing was written" in done.stderr
    assert path.read_text() == "{ not json"
    assert not path.with_name("custom.json.bak").exists()


def test_installed_entry_starts_a_server(tmp_path: Path) -> None:
    """The written command is a real executable that answers --list-toolsets."""
    install(tmp_path, "cursor")
    entry = json.loads((tmp_path / ".cursor/mcp.json").read_text())["mcpServers"]["mlintern"]
    done = subprocess.run(
        [entry["command"], *entry["args"], "--list-toolsets"],
        env=test_env(tmp_path / "state", PYTHONPATH=str(REPO)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and "\nhub: " in done.stdout
