"""Output that cannot be written — a full disk, a closed stdout, a reader that went away — is
one line on stderr and a non-zero exit (silence for the closed pipe, as other tools), handled in
one place for every command; a terminal that cannot show UTF-8 gets ASCII stand-ins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

COMMANDS = {
    "run": ["run", "boot"],
    "lessons": ["lessons"],
    "plugins": ["plugins"],
    "topology": ["export", "topology"],
    "check": ["check", "--no-contracts", "lessons/01-tour.toml"],
}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def hvlab(args, **kw):
    env = {**os.environ, "HVLAB_DATA_DIR": kw.pop("data"), **kw.pop("env", {})}
    return subprocess.run(
        [sys.executable, "-m", "hvlab", *args], env=env, cwd=ROOT, timeout=120, **kw
    )


@pytest.fixture
def data(tmp_path):
    return str(tmp_path / "data")


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_full_disk_is_one_line(args, data):
    with open("/dev/full", "w") as full:
        done = hvlab(args, data=data, stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 1
    assert done.stderr == "hvlab: cannot write to standard output: No space left on device\n"


def closed_stdout(argv: list[str], data: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv,
        env={**os.environ, "HVLAB_DATA_DIR": data},
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_closed_stdout_is_one_line(args, data):
    script = "import os, sys; os.close(1); from hvlab.cli import main; sys.exit(main(sys.argv[1:]))"
    done = closed_stdout([sys.executable, "-c", script, *args], data)
    assert done.returncode == 1
    assert done.stderr == "hvlab: cannot write to standard output: it is closed\n"


def test_a_stdout_closed_by_the_shell_is_one_line(data):
    done = closed_stdout(["sh", "-c", f'"{sys.executable}" -m hvlab run boot >&-'], data)
    assert done.returncode == 1
    assert done.stderr == "hvlab: cannot write to standard output: it is closed\n"


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_reader_that_goes_away_ends_the_command_quietly(args, data):
    proc = subprocess.Popen(
        [sys.executable, "-m", "hvlab", *args],
        env={**os.environ, "HVLAB_DATA_DIR": data},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.read(1)  # wait until it writes, then stop reading
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(120) in (0, 141)  # 0 when everything fit in the pipe before it closed
    assert err == ""


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_an_ascii_terminal_gets_ascii(args, data):
    done = hvlab(args, data=data, capture_output=True, env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii() and done.stderr.isascii()
    assert b"Traceback" not in done.stderr


def test_ascii_output_keeps_the_arrows_readable(data):
    done = hvlab(
        ["run", "ping", "--design", "monolithic"],
        data=data,
        capture_output=True,
        env={"PYTHONIOENCODING": "ascii"},
    )
    assert b"->" in done.stdout or b"?" not in done.stdout


def test_a_library_drawing_on_the_terminal_keeps_its_escapes(capsys):
    """textual-serve's banner and Textual's error report colour the terminal themselves."""
    import sys as system

    from hvlab.output import guarded_streams, raw_streams

    with guarded_streams():
        system.stdout.write("\x1b[1mfrom a file\n")
        with raw_streams():
            system.stdout.write("\x1b[1mfrom rich\n")
    out = capsys.readouterr().out
    assert out == "\\x1b[1mfrom a file\n\x1b[1mfrom rich\n"
