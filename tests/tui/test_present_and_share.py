"""Presenter mode plays with captions and stops at decisions; w shares the moment as a file."""

from __future__ import annotations

from textual.widgets import Static

from hvlab import tracefile
from hvlab.narration import narrate
from hvlab.session import RunSpec, Session
from hvlab.tui.app import HvlabApp


async def test_presenter_mode_plays_captions_and_pauses_at_the_decision(catalogue):
    session = Session(RunSpec("ping", "mitm-driver"), catalogue)
    first = next(ev.step for ev in session.lab.events if ev.blocked)
    session.goto(first - 5)
    app = HvlabApp(catalogue, session, present=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert screen.has_class("-present")
        for _ in range(100):
            await pilot.pause(0.05)
            if session.cursor == first and not screen.playing:
                break
        assert session.cursor == first and not screen.playing
        caption = screen.query_one("#caption", Static).content
        assert str(caption) == narrate(session.event, len(session.lab.events))
        assert "Blocked by no-third-party-code" in str(caption)


async def test_w_writes_a_trace_file_that_replays(catalogue, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session = Session(RunSpec("ping", "mitm-driver"), catalogue)
    app = HvlabApp(catalogue, session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("x", "w")
    (path,) = tmp_path.glob("*.hvtrace")
    moment, problem = tracefile.verify(path, catalogue)
    assert problem is None and moment.step == session.cursor


async def test_replay_opens_at_the_saved_step(catalogue):
    session = Session(RunSpec("ping", "mitm-driver"), catalogue)
    session.goto(490)
    app = HvlabApp(catalogue, session)
    async with app.run_test(size=(120, 40)):
        assert app.session.cursor == 490
