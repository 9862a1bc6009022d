"""Plugin files that clash, are not Python, or escape with a BaseException: one line naming
the plugin, and the lab goes on. Only the user's own Ctrl-C interrupts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

HOOK = textwrap.dedent(
    """
    from hvlab.hookspecs import hookimpl

    class Escape(BaseException):
        pass

    @hookimpl
    def hvlab_lab_started(info):
        raise {what}
    """
)


def test_the_same_file_name_twice_is_one_line(cli, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "probe.py").write_text("")
    code, out, err = cli(
        "run",
        "boot",
        "--plugin",
        str(tmp_path / "a/probe.py"),
        "--plugin",
        str(tmp_path / "b/probe.py"),
    )
    assert code == 0 and "outcome: ok" in out
    (line,) = err.splitlines()
    assert "plugin 'probe'" in line and "already loaded" in line and "a/probe.py" in line


def test_a_name_of_a_loaded_plugin_is_one_line(cli, tmp_path):
    clash = tmp_path / "hvlab-attacks.py"
    clash.write_text("")
    code, out, err = cli("run", "ping", "--attack", "mitm-driver", "--plugin", str(clash))
    assert code == 0 and "mitm-driver" in out  # the built-in is still the one loaded
    (line,) = err.splitlines()
    assert "plugin 'hvlab-attacks'" in line and "already loaded (from built-in)" in line


def test_a_file_that_is_not_python_is_one_line(cli, tmp_path):
    notes = tmp_path / "plugin.txt"
    notes.write_text("print('hi')")
    code, _, err = cli("run", "boot", "--plugin", str(notes))
    assert code == 0 and err.strip().endswith("not a .py file; a plugin file is Python source")


@pytest.mark.parametrize(
    "what", ["SystemExit(3)", "KeyboardInterrupt", "GeneratorExit", "Escape('out')"]
)
def test_a_hook_raising_a_base_exception_is_reported_and_the_lab_goes_on(cli, tmp_path, what):
    plugin = tmp_path / "escaper.py"
    plugin.write_text(HOOK.format(what=what))
    code, out, err = cli("run", "boot", "--plugin", str(plugin))
    assert code == 0 and "outcome: ok" in out
    (line,) = err.splitlines()
    name = what.split("(")[0]
    assert f"plugin 'escaper' raised {name}" in line and "blocked for this session" in line


@pytest.mark.parametrize("what", ["SystemExit(3)", "KeyboardInterrupt"])
def test_a_plugin_file_escaping_while_it_imports_is_one_line(cli, tmp_path, what):
    plugin = tmp_path / "early.py"
    plugin.write_text(f"raise {what}\n")
    code, out, err = cli("run", "boot", "--plugin", str(plugin))
    assert code == 0 and "outcome: ok" in out
    (line,) = err.splitlines()
    assert f"early.py:1: cannot import: {what.split('(')[0]}" in line


SLOW = textwrap.dedent(
    """
    import sys, time
    from hvlab.hookspecs import hookimpl

    @hookimpl
    def hvlab_lab_started(info):
        print("in the hook", file=sys.stderr, flush=True)
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # outlive the per-call time limit: only Ctrl-C ends this
                pass
    """
)


def test_the_users_ctrl_c_during_a_hook_still_interrupts(tmp_path):
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hvlab", "run", "boot", "--plugin", str(plugin)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HVLAB_DATA_DIR": str(tmp_path)},
    )
    assert proc.stderr.readline().strip() == "in the hook"  # its signal, not a sleep
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130
    assert "Traceback" not in proc.stderr.read()
