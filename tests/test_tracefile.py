"""Trace files round-trip; edited, truncated, foreign or diverging files are refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hvlab import tracefile
from hvlab.plugins import load_catalogue
from hvlab.session import RunSpec

CAT = load_catalogue([], echo=False)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "moment.hvtrace"
    moment = tracefile.capture(CAT, RunSpec("ping", "mitm-driver"), 490)
    tracefile.write(path, moment)
    return path, moment


def test_round_trip_and_verify(saved):
    path, moment = saved
    assert tracefile.read(path) == moment
    again, problem = tracefile.verify(path, CAT)
    assert problem is None and again.step == 490 and again.plugins["hvlab-attacks"]


def rewrite(path, **changes):
    """Change fields and re-sign the file, as a careful forger would."""
    moment = tracefile.read(path)
    fields = {**moment.fields(), **changes}
    fields["off"] = tuple(fields["off"])
    tracefile.write(path, tracefile.Moment(**fields))


def test_an_edited_field_breaks_the_checksum(saved):
    path, _ = saved
    path.write_text(path.read_text().replace("step = 490", "step = 12"))
    with pytest.raises(tracefile.TraceFileError, match="edited after it was written"):
        tracefile.read(path)


@pytest.mark.parametrize("cut", [0, 40, 200])
def test_a_truncated_file_is_refused(saved, cut):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(tracefile.TraceFileError) as err:
        tracefile.read(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_a_run_that_rebuilds_differently_is_named(saved):
    path, _ = saved
    rewrite(path, seed=3)  # a consistent file whose run is not the one its digest describes
    _, problem = tracefile.verify(path, CAT)
    assert problem and "the rebuilt run differs" in problem


def test_a_plugin_is_refused_only_when_the_run_needs_it_and_it_is_missing(saved):
    path, moment = saved
    assert "hvlab-defenses" in moment.plugins  # it adds a protection: every run needs it
    # another version of a plugin the run needs: rebuilt, and the same run, so it replays
    rewrite(path, plugins={**moment.plugins, "hvlab-defenses": "9.9"})
    _, problem = tracefile.verify(path, CAT)
    assert problem is None
    # the same with a different run: the version difference is named with the difference
    rewrite(path, seed=3, plugins={**moment.plugins, "hvlab-defenses": "9.9"})
    _, problem = tracefile.verify(path, CAT)
    assert "the rebuilt run differs" in problem and "'hvlab-defenses' is 0" in problem
    rewrite(path, plugins={"hvlab-gone": "1.0"})
    _, problem = tracefile.verify(path, CAT)
    assert "'hvlab-gone' 1.0, which is not loaded here; install it, or name its file" in problem


def test_the_commands(tmp_path):
    path = tmp_path / "m.hvtrace"

    def hvlab(*args):
        return subprocess.run(
            [sys.executable, "-m", "hvlab", *args], capture_output=True, text=True, timeout=120
        )

    made = hvlab("export", "trace", str(path), "--workload", "ping", "--attack", "mitm-driver")
    assert made.returncode == 0 and path.exists()
    ok = hvlab("replay", "--check", str(path))
    assert ok.returncode == 0 and "rebuilds the same trace" in ok.stdout
    path.write_text(path.read_text().replace('workload = "ping"', 'workload = "boot"'))
    bad = hvlab("replay", "--check", str(path))
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "edited" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = hvlab("replay", "--check", str(tmp_path / "nope.hvtrace"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    unknown = hvlab("export", "trace", str(path), "--attack", "nope")
    assert unknown.returncode == 2 and "unknown attack 'nope'" in unknown.stderr


def test_a_moment_made_with_a_plugin_file_replays_with_that_file(tmp_path):
    from pathlib import Path

    reader = Path(__file__).parent.parent / "docs/examples/hvlab-root-reader/hvlab_root_reader.py"
    path = tmp_path / "reader.hvtrace"

    def hvlab(*args):
        return subprocess.run(
            [sys.executable, "-m", "hvlab", *args], capture_output=True, text=True, timeout=120
        )

    attack = ["--workload", "boot", "--attack", "root-driver-reads-a"]
    made = hvlab("export", "trace", str(path), *attack, "--plugin", str(reader))
    assert made.returncode == 0, made.stderr
    without = hvlab("replay", "--check", str(path))
    assert without.returncode == 1
    assert "plugin 'hvlab_root_reader'" in without.stderr
    assert "name its file with --plugin" in without.stderr
    assert hvlab("replay", "--check", str(path), "--plugin", str(reader)).returncode == 0


def test_a_trace_exported_on_another_machine_replays_here():
    """tests/data/ping-mitm-step490.hvtrace was written on the development machine; CI
    rebuilds it from a clean clone on its own machine and must get the same digest."""
    from pathlib import Path

    path = Path(__file__).parent / "data" / "ping-mitm-step490.hvtrace"
    moment, problem = tracefile.verify(path, CAT)
    assert problem is None, problem
    assert moment.step == 490


def test_a_trace_from_an_older_model_is_refused_in_one_line():
    """tests/data/ping-mitm-model1.hvtrace was written before the model spoke the real wire
    formats (model version 1, no `model_version` field): it is read, and refused by name."""
    from pathlib import Path

    from hvlab.model import MODEL_VERSION

    path = Path(__file__).parent / "data" / "ping-mitm-model1.hvtrace"
    moment, problem = tracefile.verify(path, CAT)
    assert moment.model_version == 1 and MODEL_VERSION > 1
    assert problem is not None and "model version 1" in problem and "\n" not in problem
    assert "export it again" in problem


def test_a_plugin_the_run_does_not_need_is_not_recorded(tmp_path):
    from hvlab.plugins import load_catalogue

    observer = tmp_path / "observer.py"
    observer.write_text(
        "from hvlab.api import hookimpl\n\n@hookimpl\ndef hvlab_event(event):\n    pass\n"
    )
    cat = load_catalogue([str(observer)], echo=False)
    moment = tracefile.capture(cat, RunSpec("ping", "mitm-driver"), 10)
    assert "observer" not in moment.plugins and "hvlab-attacks" in moment.plugins
