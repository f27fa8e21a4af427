"""The pieces under the tools: path checks, the descriptor walk, output capture, line paging."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from server.errors import UserError
from toolkits.sandbox.backends.limits import ExecLimits, launcher, preexec
from toolkits.sandbox.backends.local_files import WorkspaceFS
from toolkits.sandbox.output import OutputCapture
from toolkits.sandbox.paths import workspace_relative
from toolkits.sandbox.textview import apply_edit, looks_binary, page_lines, snippet_around

WS = "/srv/sandboxes/sbx-1/workspace"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("train.py", "train.py"),
        ("./a//b/./c.txt", "a/b/c.txt"),
        (".", "."),
        ("~/notes.md", "notes.md"),
        (f"{WS}/data/x.csv", "data/x.csv"),
        (WS, "."),
    ],
)
def test_workspace_relative_accepts_paths_inside(given: str, expected: str) -> None:
    assert workspace_relative(given, WS).as_posix() == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("../x", "contains '..'"),
        ("a/../../x", "contains '..'"),
        ("/etc/passwd", "outside the sandbox workspace"),
        (f"{WS}-other/x", "outside the sandbox workspace"),
        ("a\x00b", "NUL"),
    ],
)
def test_workspace_relative_refuses_ways_out(given: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        workspace_relative(given, WS)


def test_a_symlink_swapped_in_after_resolution_is_not_followed(tmp_path: Path) -> None:
    workspace, outside = tmp_path / "ws", tmp_path / "outside"
    (workspace / "d").mkdir(parents=True)
    outside.mkdir()
    fs = WorkspaceFS(workspace, owner=None)
    parts = fs.resolve(PurePosixPath("d/f.txt"))
    assert parts == ["d", "f.txt"]
    # Between the check and the open, something in the sandbox replaces d with a symlink.
    (workspace / "d").rmdir()
    (workspace / "d").symlink_to(outside)
    with pytest.raises(UserError, match="replaced by a symlink"):
        with fs._parent_dir(parts, create=True):
            pass
    assert list(outside.iterdir()) == []


def test_relative_symlinks_inside_are_followed_and_dotdot_out_is_not(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "a" / "b").mkdir(parents=True)
    (workspace / "a" / "b" / "f").write_text("x")
    os.symlink("../a/b", workspace / "a" / "up")
    os.symlink("../../..", workspace / "a" / "b" / "escape")
    fs = WorkspaceFS(workspace, owner=None)
    assert fs.resolve(PurePosixPath("a/up/f")) == ["a", "b", "f"]
    with pytest.raises(UserError, match="leads outside"):
        fs.resolve(PurePosixPath("a/b/escape/etc"))


def test_capture_keeps_small_output_whole(tmp_path: Path) -> None:
    capture = OutputCapture(100, tmp_path / "spill.log", 10_000)
    for chunk in (b"hello ", b"world\n"):
        capture.feed(chunk)
    assert capture.text() == "hello world\n" and not capture.truncated
    assert capture.finish() is None and not (tmp_path / "spill.log").exists()


def test_capture_past_the_cap_keeps_head_tail_and_spills_everything(tmp_path: Path) -> None:
    stream = b"".join(f"line {n}\n".encode() for n in range(1, 5001))
    capture = OutputCapture(400, tmp_path / "spill.log", 10**9)
    for start in range(0, len(stream), 777):  # chunk edges fall mid-line
        capture.feed(stream[start : start + 777])
    spilled = capture.finish()
    assert spilled is not None and spilled.read_bytes() == stream
    text = capture.text()
    assert text.startswith("line 1\nline 2\n") and text.endswith("line 4999\nline 5000\n")
    assert len(text) < 500
    tail_first = text.split("] …\n", 1)[1].split("\n", 1)[0]
    assert tail_first == f"line {capture.tail_start_line}"


def test_capture_spill_stops_at_its_limit(tmp_path: Path) -> None:
    capture = OutputCapture(10, tmp_path / "spill.log", 1000)
    for _ in range(100):
        capture.feed(b"x" * 100)
    assert capture.total_bytes == 10_000
    assert capture.finish() == tmp_path / "spill.log"
    assert (tmp_path / "spill.log").stat().st_size == 1000


class BytesReader:
    def __init__(self, data: bytes):
        self.data, self.size = data, len(data)

    async def read(self, start: int, length: int) -> bytes:
        return self.data[start : start + length]

    async def close(self) -> None:
        return None


async def test_page_lines_windows_and_counts() -> None:
    reader = BytesReader(b"".join(f"row {n}\r\n".encode() for n in range(1, 101)))
    page = await page_lines(reader, offset=98, limit=10, max_chars=10_000)
    assert page.text == "    98\trow 98\n    99\trow 99\n   100\trow 100"
    assert page.total_lines == 100 and not page.more
    first = await page_lines(reader, offset=1, limit=3, max_chars=10_000)
    assert first.more and first.end_line == 3 and first.total_lines == 100


async def test_an_endless_line_is_shown_cut_without_holding_it_all() -> None:
    reader = BytesReader(b"a" * 5_000_000 + b"\nnext\n")
    page = await page_lines(reader, offset=1, limit=5, max_chars=10_000)
    first, second = page.text.split("\n")
    assert first.endswith("[line cut at 2000 characters]") and len(first) < 2100
    assert second == "     2\tnext"


def test_binary_detection() -> None:
    assert looks_binary(b"\x7fELF\x02\x01\x01\x00\x00")
    assert not looks_binary("naïve café — ünïcode\n".encode() * 50)
    assert not looks_binary("é".encode() * 10 + "é".encode()[:1])  # a cut last character


def test_edit_replaces_one_exact_occurrence_and_shows_where() -> None:
    text = "a = 1\nb = 2\nc = 3\n"
    updated, count, at = apply_edit(text, "b = 2", "b = 20", False, "x.py")
    assert updated == "a = 1\nb = 20\nc = 3\n" and count == 1
    snippet, first_line = snippet_around(updated, at, len("b = 20"))
    assert first_line == 1 and snippet.splitlines()[1] == "     2\tb = 20"
    with pytest.raises(UserError, match="identical"):
        apply_edit(text, "a", "a", False, "x.py")


LIMIT_REPORT = "ulimit -v; ulimit -t; ulimit -u; ulimit -c"


def test_both_ways_of_setting_limits_set_the_same_ones() -> None:
    limits = ExecLimits(memory_mb=300, cpu_s=7, processes=123)
    prefix, in_child = launcher(limits)
    assert prefix and in_child is None  # prlimit is installed here (util-linux)
    by_prlimit = subprocess.run(
        [*prefix, "bash", "-c", LIMIT_REPORT],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    by_child = subprocess.run(
        ["bash", "-c", LIMIT_REPORT],
        preexec_fn=preexec(limits),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert by_prlimit.stdout.split() == by_child.stdout.split() == ["307200", "7", "123", "0"]
