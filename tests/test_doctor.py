"""`mlintern-server doctor`: one line per check with its fix, exit 1 when a needed piece is missing,
credentials reported as set/unset and never shown."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

from helpers import REPO, free_port, test_env

PLANTED = "hf_PLANTEDdoctorSECRETvalue123456"


def doctor(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "doctor", *args],
        env=test_env(home, PYTHONPATH=str(REPO), **env),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines_named(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if f"  {name}:" in line]


def test_healthy_machine_passes_and_credentials_show_only_set(tmp_path: Path) -> None:
    done = doctor(tmp_path, HF_TOKEN=PLANTED)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert PLANTED not in out + done.stderr
    assert lines_named(out, "HF_TOKEN") == ["ok    HF_TOKEN: set"]
    # positive control: an unset credential is reported with its fix
    assert lines_named(out, "GITHUB_TOKEN")[0].endswith("fix: export GITHUB_TOKEN=...")
    for core in ("duckdb", "numpy", "matplotlib", "ruamel.yaml", "tensorboard", "pyarrow"):
        assert lines_named(out, f"package {core}") == [f"ok    package {core}: installed"]
    assert lines_named(out, "state directory") == [f"ok    state directory: {tmp_path}"]
    assert out.splitlines()[-1] == "doctor: everything the default toolsets need is here"


def test_missing_required_piece_exits_nonzero_with_fix(tmp_path: Path) -> None:
    done = doctor(
        tmp_path,
        MLINTERN_SANDBOX_BWRAP="/nonexistent/bwrap",
        MLINTERN_SANDBOX_REQUIRE_ISOLATION="true",
    )
    assert done.returncode == 1
    [line] = lines_named(done.stdout, "bubblewrap")
    assert line.startswith("fail  bubblewrap: '/nonexistent/bwrap' not found")
    assert "fix: apt-get install bubblewrap" in line
    assert done.stdout.splitlines()[-1] == "doctor: 1 problem(s) to fix: bubblewrap"


def test_unwritable_state_directory_fails(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = doctor(tmp_path, MLINTERN_HOME=str(blocker / "home"))
    assert done.returncode == 1
    [line] = lines_named(done.stdout, "state directory")
    assert line.startswith("fail  state directory:") and "fix: set MLINTERN_HOME" in line


class _Answer(http.server.BaseHTTPRequestHandler):
    seen_auth: list[str | None] = []  # noqa: RUF012 - shared by the test and the handler

    def do_GET(self) -> None:
        _Answer.seen_auth.append(self.headers.get("Authorization"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_remote_probe_reports_answering_and_dead_endpoints(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = f"http://127.0.0.1:{server.server_address[1]}"
    dead = f"http://127.0.0.1:{free_port()}"
    try:
        done = doctor(
            tmp_path,
            "--remote",
            HF_TOKEN=PLANTED,
            HF_ENDPOINT=live,
            MLINTERN_GITHUB_API_URL=dead,
            MLINTERN_DATASETS_SERVER_URL=live,
            MLINTERN_SEMANTIC_SCHOLAR_URL=live,
            MLINTERN_ARXIV_URL=live,
            MLINTERN_DOCS_URL=live,
            MLINTERN_RAY_ADDRESS=live,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0  # remote endpoints are optional
    assert lines_named(done.stdout, "Hub (HF_ENDPOINT)") == [
        f"ok    Hub (HF_ENDPOINT): {live} answers (HTTP 204)"
    ]
    [github] = lines_named(done.stdout, "GitHub API (MLINTERN_GITHUB_API_URL)")
    assert github.startswith(f"warn  GitHub API (MLINTERN_GITHUB_API_URL): {dead} does not answer")
    assert _Answer.seen_auth and set(_Answer.seen_auth) == {None}  # no token went out
