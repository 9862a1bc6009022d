"""hvlab exercise lab: the attack's run with the learner's check in the model, the verdict in
the status bar, r to check the file again, and the file itself in the Plugins tab."""

from __future__ import annotations

import io

from rich.console import Console

from hvlab.exercises import load_exercises
from hvlab.exercises.lab import ExerciseLab
from hvlab.tui.app import HvlabApp
from hvlab.tui.lab_screen import LabScreen


def text_of(widget) -> str:
    console = Console(width=300, file=io.StringIO(), color_system=None)
    console.print(widget.content if hasattr(widget, "content") else widget.renderable)
    return console.file.getvalue()


async def test_the_status_bar_says_the_verdict_and_r_checks_the_file_again(catalogue, tmp_path):
    ex = load_exercises()["sharing-policy"]
    mine = tmp_path / "sharing-policy.py"
    mine.write_bytes(ex.starter.read_bytes())
    lab = ExerciseLab(ex, mine, catalogue)
    session = lab.build()
    assert session.lab.outcome.result == "breached"  # the starter lets the snoop through
    app = HvlabApp(session.catalogue, session, exercise=lab)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, LabScreen)
        status = text_of(screen.query_one("#status"))
        assert "exercise sharing-policy: FAIL (must stop)" in status
        await pilot.press("5")
        await pilot.pause()
        await pilot.pause()
        summary = text_of(screen.query_one("#plugin-summary"))
        assert str(mine) in summary and "FAIL" in summary
        mine.write_bytes(ex.reference.read_bytes())
        await pilot.press("r")
        for _ in range(400):  # the check runs in a worker: wait for its verdict on screen
            await pilot.pause(0.05)
            if "PASS" in text_of(screen.query_one("#status")):
                break
        status = text_of(screen.query_one("#status"))
        assert "exercise sharing-policy: PASS" in status and "run ends: blocked" in status
        assert app.session.lab.outcome.result == "blocked"
        assert "PASS" in text_of(screen.query_one("#plugin-summary"))  # the tab follows
