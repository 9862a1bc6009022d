"""Narration mode, the start screen, and the command line that opens them."""

from __future__ import annotations

import re
import subprocess
import sys

from textual.widgets import RichLog, Select

from hvlab.cli import main
from hvlab.lab import Lab
from hvlab.narration import narrate
from hvlab.tui.app import HvlabApp
from hvlab.tui.lab_screen import LabScreen
from hvlab.tui.start import StartScreen
from tests.tui.conftest import lab_app

BOX_DRAWING = re.compile("[\u2500-\u259f]")


async def test_narration_appends_one_labelled_line_per_move(catalogue):
    app = lab_app(catalogue, narrate=True, workload="ping", attack="mitm-driver")
    ref = Lab("ping")  # only for step counts and wording of events shared by both runs
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await pilot.press("n", "n", "b", "x")
        lines = screen.lines
        total = len(app.session.lab.events)
        assert lines[0].startswith("hvlab narration. Run: ping · attack mitm-driver")
        assert lines[1] == narrate(app.session.lab.events[0], total)
        assert lines[1].startswith(f"Step 0 of {total - 1}. Actor lab:")
        assert lines[2].startswith("Step 1 of")
        assert lines[3].startswith("Step 0 of")  # back
        assert "Blocked by no-third-party-code." in lines[4]
        assert ref.events[0].name == app.session.lab.events[0].name
        assert not any(BOX_DRAWING.search(line) for line in lines)
        assert len(screen.query_one(RichLog).lines) >= len(lines)  # wrapped, never cut
        # switching a protection is narrated too
        await pilot.press("t", *"guest-traffic-via-root", "enter")
        await pilot.pause()
        assert screen.lines[-1].startswith("Replayed under design")
        assert "decided by guest-traffic-via-root" in screen.lines[-1]


def test_narrate_without_a_terminal_prints_the_whole_run(capsys):
    assert main(["--narrate", "--workload", "ping", "--attack", "mitm-driver"]) == 0
    out = capsys.readouterr().out.splitlines()
    lab = Lab("ping")
    assert out[0].startswith("hvlab narration. Run: ping · attack mitm-driver")
    assert out[1].startswith("Step 0 of ") and lab.events[0].name in out[1]
    assert "Outcome: blocked." in out
    # by what, at which step
    assert out[-1].startswith("mitm-driver") and "blocked by no-third-party-code at step" in out[-1]
    assert not any(BOX_DRAWING.search(line) for line in out)


async def test_narration_wraps_long_lines_at_the_window_width(catalogue):
    app = lab_app(catalogue, narrate=True, workload="ping")
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        log = app.screen.query_one(RichLog)
        longest = max(len(line) for line in app.screen.lines)
        assert longest > 60
        assert all(strip.cell_length <= 60 for strip in log.lines)


def test_bad_lab_options_are_one_line_and_exit_2():
    for argv, expected in (
        (["--attack", "no-such-attack"], "unknown attack 'no-such-attack'"),
        (["--workload", "nope"], "unknown workload 'nope'"),
        (["--design", "nope", "--workload", "boot"], "unknown design 'nope'"),
        (["--off", "nope"], "unknown protection 'nope'"),
        (["serve", "--attack", "nope"], "unknown attack 'nope'"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "hvlab", *argv], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, argv
        assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


async def test_the_start_screen_opens_the_chosen_run(catalogue):
    app = HvlabApp(catalogue)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, StartScreen)
        app.screen.query_one("#attack", Select).value = "mitm-driver"
        await pilot.pause()
        assert app.screen.query_one("#workload", Select).value == "ping"
        app.screen.query_one("#design", Select).value = "monolithic"
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, LabScreen)
        spec = app.session.spec
        assert (spec.workload, spec.attack, spec.preset) == ("ping", "mitm-driver", "monolithic")
        assert app.session.lab.outcome.result == "breached"
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        # the start screen remembers what was open, and enter opens it again
        assert app.screen.query_one("#attack", Select).value == "mitm-driver"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LabScreen)
        await pilot.press("n", "n", "b")
        assert app.session.cursor == 0
