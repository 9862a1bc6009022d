"""Running hvlab on a terminal of its own (a pseudo-terminal), as a learner's shell would."""

from __future__ import annotations

import os
import sys


def on_a_terminal(args: list[str], data_dir) -> tuple[int, bytes]:
    """`python ARGS` with a pty for stdin/stdout/stderr and HVLAB_DATA_DIR=data_dir: its exit
    code and all it wrote to the terminal."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.environ["HVLAB_DATA_DIR"] = str(data_dir)
        os.execv(sys.executable, [sys.executable, *args])
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal: it has ended
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen
