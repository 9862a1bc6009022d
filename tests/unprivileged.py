"""Running hvlab where file permissions apply: as root (CI, these machines) a process reads
any file whatever its mode, so a test of "permission denied" runs hvlab in a child process with
the two capabilities that bypass file modes dropped from its bounding set (Linux's
PR_CAPBSET_DROP), which the child's exec then takes out of its effective set."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_hvlab(
    args: list[str], *, data_dir: Path, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """`python -m hvlab ARGS` with file permissions enforced, its data in `data_dir`."""
    env = {**os.environ, "HVLAB_DATA_DIR": str(data_dir), "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-m", "hvlab", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        preexec_fn=_drop_file_capabilities if os.geteuid() == 0 else None,
    )


_made: list[Path] = []


def world_dir() -> Path:
    """A fresh folder (removed when the tests end) whose mode the test may change at will."""
    folder = Path(tempfile.mkdtemp(prefix="hvlab-test-"))
    _made.append(folder)
    return folder


def remove_made() -> None:
    for folder in _made:
        for sub in [folder, *folder.rglob("*")]:
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)
    _made.clear()
