"""The bubblewrap/slirp4netns hand-off pipes: each fd is closed exactly once."""

from __future__ import annotations

import os

from server.exec_gate import Handshake


def test_closing_twice_never_closes_a_file_that_reused_the_number() -> None:
    handshake = Handshake.open()
    child_ends = set(handshake.child_fds())
    handshake.after_spawn()  # the child's ends are closed here ...
    reused_read, reused_write = os.pipe()  # ... and the kernel hands their numbers out again
    try:
        assert {reused_read, reused_write} & child_ends, "the kernel reused no number"
        handshake.close()
        os.fstat(reused_read)  # still open: close() left the new pipe alone
        os.fstat(reused_write)
    finally:
        os.close(reused_read)
        os.close(reused_write)
