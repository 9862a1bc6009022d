"""Bad input, class by class: every case ends in one line naming what was wrong, a non-zero exit
where the command could not do its work, and never a traceback or a raw control character."""

from __future__ import annotations

import signal

import pytest

from hvlab.cli import main

BIDI_AND_ESCAPES = ("\x1b", "\u202e", "\u2066", "\x07")


class Cli:
    """`hvlab ARGS` in this process, with its own data folder; returns (code, out, err)."""

    def __init__(self, capsys) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        # a FIFO or a device that blocked a read would hang the test: fail it instead
        def hung(*_):
            raise AssertionError(f"hvlab {' '.join(args)} hung")

        old = signal.signal(signal.SIGALRM, hung)
        signal.alarm(60)
        try:
            code = main(list(args))
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err + out, err
        for raw in BIDI_AND_ESCAPES:
            assert raw not in err + out, (raw, err)
        return code, out, err

    def refused(self, *args: str, code: int = 2) -> str:
        """The one line a refused command says; checks the exit status and that it is one."""
        got, out, err = self(*args)
        assert got == code, (got, out, err)
        lines = [line for line in err.splitlines() if line]
        assert len(lines) == 1, err
        assert lines[0].startswith("hvlab: ")
        return lines[0]


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HVLAB_DATA_DIR", str(tmp_path / "data"))
    return Cli(capsys)
