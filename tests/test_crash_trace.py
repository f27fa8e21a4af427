"""A segfault in C code leaves the Python stack in the log (server.errors.trace_crashes), which
is how the uvloop crash behind a flaky end-to-end test was found."""

from __future__ import annotations

import subprocess
import sys

CRASH = "import ctypes; ctypes.string_at(0)  # reads address 0: SIGSEGV"


def crash(prelude: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"{prelude}\n{CRASH}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )


def test_a_crash_prints_the_stack_that_ran() -> None:
    traced = crash("from server.errors import trace_crashes; trace_crashes()")
    assert traced.returncode == -11
    assert "Fatal Python error: Segmentation fault" in traced.stderr
    assert 'File "<string>", line 2 in <module>' in traced.stderr
    # The control: the same crash without it leaves nothing to go on.
    bare = crash("import server.errors")
    assert bare.returncode == -11 and bare.stderr == ""


def test_the_entry_points_turn_it_on() -> None:
    for module in ("server.cli", "agent.cli"):
        probe = (
            f"import faulthandler, {module} as cli; faulthandler.disable()\n"
            "try:\n    cli.main(['--version'])\nexcept SystemExit:\n    pass\n"
            "assert faulthandler.is_enabled(), 'main() did not enable faulthandler'"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
        )
        assert result.returncode == 0, (module, result.stderr[-2000:])
