"""Requests that cannot be met are refused in one line before any work: an attack on the wrong
workload, an export without a place, an empty lesson folder, an address serve cannot listen
on, a trace file edited to open outside its run; reports stay well-formed; a crashed TUI says so
in its exit status."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import tomli_w

from hvlab import tracefile


def test_an_attack_on_another_workload_names_the_one_it_needs(cli):
    line = cli.refused("run", "boot", "--attack", "mitm-driver")
    assert "rides on the workload 'ping', not 'boot'" in line


def test_export_topology_writes_the_file_it_is_given(cli, tmp_path):
    target = tmp_path / "arch.dot"
    code, out, _ = cli("export", "topology", str(target))
    assert code == 0 and out == f"wrote {target}\n"
    assert target.read_text().startswith("strict graph hvlab {")


def test_check_of_an_empty_folder_says_no_lessons(cli, tmp_path):
    code, _, err = cli("check", "--no-contracts", str(tmp_path))
    assert code == 2 and "no lessons found" in err


def test_the_junit_report_is_well_formed_whatever_the_files_hold(cli, tmp_path):
    (tmp_path / "bad\x1b\x01name.toml").write_text('schema_version = 1\nid = "x\x02"\n')
    report = tmp_path / "report.xml"
    code, _, _ = cli("check", "--no-contracts", str(tmp_path), "--junit", str(report))
    assert code == 2
    suite = ET.fromstring(report.read_bytes())  # raises on a character XML cannot hold
    assert suite.get("errors") == "1" and "\\x1b" in suite.find("testcase").get("name")


@pytest.fixture
def listening():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_serve_on_a_port_in_use_is_refused_before_serving(cli, listening):
    line = cli.refused("serve", "--port", str(listening))
    assert "Address already in use" in line and "serving on" not in line


@pytest.mark.parametrize("host", ["999.1.1.1", "no such host.invalid", "8.8.8.8"])
def test_serve_on_a_bad_host_is_refused_before_serving(cli, host):
    line = cli.refused("serve", "--host", host, "--port", "8123")
    assert host in line and "serving on" not in line


def forge(path, **changes) -> None:
    """Edit a trace file's fields and recompute its checksum, as anyone can."""
    fields = {**tracefile.read(path).fields(), **changes}
    fields["off"] = list(fields["off"])
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    path.write_text(tomli_w.dumps({"hvlab_trace": 1, **fields, "checksum": digest}))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"step": 100_000}, "step 100000 is outside the run"),
        ({"step": -7}, "cannot be negative"),
        ({"lesson_step": -1}, "cannot be negative"),
        ({"workload": "ping"}, "the rebuilt run differs"),
    ],
)
def test_a_forged_trace_cannot_open_outside_its_run(cli, tmp_path, changes, problem):
    path = tmp_path / "moment.hvtrace"
    assert cli("export", "trace", str(path), "--step", "10")[0] == 0
    forge(path, **changes)
    assert problem in cli.refused("replay", "--check", str(path), code=1)
    assert problem in cli.refused("replay", str(path), code=2)


def test_a_forged_lesson_step_beyond_the_lesson_is_refused(cli, tmp_path):
    path = tmp_path / "moment.hvtrace"
    assert cli("export", "trace", str(path), "--lesson", "tour", "--lesson-step", "0")[0] == 0
    forge(path, lesson_step=40)
    assert "lesson step 40 is outside lesson 'tour'" in cli.refused("replay", str(path))


CRASH = """
import sys
from hvlab.tui import lab_screen

def boom(self, *a):
    raise RuntimeError("a bug in a pane")

lab_screen.LabScreen.on_mount = boom
from hvlab.cli import main
sys.exit(main(["--workload", "boot"]))
"""


def test_a_crashed_tui_exits_non_zero(tmp_path):
    from tests.terminal import on_a_terminal

    code, seen = on_a_terminal(["-c", CRASH], tmp_path)
    assert code == 1, seen[-400:]
    assert b"a bug in a pane" in seen  # Textual's own report of the error


def test_an_installed_hvlab_without_a_terminal_still_says_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "hvlab", "--workload", "boot"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HVLAB_DATA_DIR": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
