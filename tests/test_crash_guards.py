"""The process guards mlintern-server and mlintern-agent turn on (server/crash_guards.py): a
crash leaves the Python stack in the log, and on Python 3.10/3.11 no garbage collection starts
inside ContextVar.set (CPython gh-148891), which crashed the HTTP server under load."""

from __future__ import annotations

import subprocess
import sys

import pytest

OLD_PYTHON = sys.version_info < (3, 12)

# Context variables set in a loop while every allocation may start a collection whose
# finalisers (weakref callbacks on cyclic garbage) set a context variable too.
REENTRANT_SET = """
import contextvars, gc, weakref
gc.set_threshold(1)
{guard}
var = contextvars.ContextVar("var")
pads = [contextvars.ContextVar(f"pad{{i}}") for i in range(40)]
for pad in pads:
    pad.set(object())
fired = 0
def on_collect(_ref):
    global fired
    fired += 1
    var.set(object())
class Node:
    pass
refs = []
for i in range(200_000):
    node = Node()
    node.me = node
    refs.append(weakref.ref(node, on_collect))
    del node
    pads[i % 40].set(object())
    if len(refs) > 1000:
        refs = [r for r in refs if r() is not None]
print(fired)
"""
GUARD = "from server.crash_guards import collect_garbage_between_steps as g; assert g(0.001)"


def python(code: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path), **env},
    )


@pytest.mark.skipif(not OLD_PYTHON, reason="the collector no longer runs there from 3.12 on")
def test_no_collection_starts_inside_contextvar_set() -> None:
    # The debug allocator overwrites freed memory, so reading it crashes instead of passing.
    guarded = python(REENTRANT_SET.format(guard=GUARD), PYTHONMALLOC="debug")
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert int(guarded.stdout) > 100_000  # the finalisers did run: from the timer thread
    # The control: the same program with automatic collection crashes, in about two runs of
    # three (whether the collection lands inside the call varies): ten tries.
    outcomes = []
    for _ in range(10):
        bare = python(REENTRANT_SET.format(guard=""), PYTHONMALLOC="debug")
        outcomes.append(bare.returncode)
        if bare.returncode == -11:
            break
    assert outcomes[-1] == -11, outcomes


def test_the_timer_collects_cyclic_garbage() -> None:
    code = (
        "import gc, time, weakref\n"
        "from server.crash_guards import collect_garbage_between_steps\n"
        f"assert collect_garbage_between_steps(0.05) is {OLD_PYTHON}\n"
        f"assert gc.isenabled() is {not OLD_PYTHON}\n"
        "class Node: pass\n"
        "node = Node(); node.me = node; ref = weakref.ref(node); del node\n"
        "deadline = time.monotonic() + 30\n"
        "while ref() is not None and time.monotonic() < deadline:\n"
        "    time.sleep(0.01) if not gc.isenabled() else gc.collect()\n"
        "print('collected' if ref() is None else 'leaked')\n"
    )
    result = python(code)
    assert (result.returncode, result.stdout.strip()) == (0, "collected"), result.stderr


def test_a_crash_prints_the_stack_that_ran() -> None:
    crash = "import ctypes; ctypes.string_at(0)  # reads address 0: SIGSEGV"
    traced = python(f"from server.crash_guards import trace_crashes; trace_crashes()\n{crash}")
    assert traced.returncode == -11
    assert "Fatal Python error: Segmentation fault" in traced.stderr
    assert 'File "<string>", line 2 in <module>' in traced.stderr
    bare = python(f"import server.crash_guards\n{crash}")  # the control: nothing to go on
    assert bare.returncode == -11 and bare.stderr == ""


@pytest.mark.parametrize("module", ["server.cli", "agent.cli"])
def test_the_entry_points_turn_both_on(module: str) -> None:
    probe = (
        f"import faulthandler, gc, {module} as cli\n"
        "faulthandler.disable()\n"
        "try:\n    cli.main(['--version'])\nexcept SystemExit:\n    pass\n"
        "assert faulthandler.is_enabled(), 'no crash traces'\n"
        f"assert gc.isenabled() is {not OLD_PYTHON}, 'automatic collection'\n"
    )
    result = python(probe)
    assert result.returncode == 0, result.stderr[-2000:]
