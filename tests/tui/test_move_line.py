"""The move line: `:` opens it, tab completes, enter makes the move and grows the timeline, a
bad line stays for editing with one line of error, ↑ recalls, `u` undoes; while it has focus,
the lab's one-key bindings step aside so every letter types."""

from __future__ import annotations

from hvlab.model.core.events import EventKind
from hvlab.tui.dialogs import Report
from hvlab.tui.move_line import MoveInput, MoveLine
from tests.tui.conftest import lab_app

SIZE = (120, 40)


def reply_text(app) -> str:
    return str(app.screen.query_one("#move-reply").content)


async def test_type_a_move_with_completion_see_the_reply_and_undo(catalogue):
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        session.goto(700)
        before = len(session.lab.events)
        original = session.lab.digest
        await pilot.press("colon")
        await pilot.pause()
        line = app.screen.query_one(MoveLine)
        assert line.is_open
        field = app.screen.query_one(MoveInput)
        assert app.screen.focused is field and field.value == "A: "
        await pilot.press(*"hyp", "tab")
        assert field.value == "A: hypercall "
        await pilot.press(*"HvCallCreatePar", "tab")
        assert field.value == "A: hypercall HvCallCreatePartition "
        assert session.cursor == 700  # n, b, e, x … typed into the line, not stepped
        await pilot.press("enter")
        await pilot.pause()
        assert len(session.lab.events) > before  # the timeline grew
        assert session.spec.moves == ((700, "A: hypercall HvCallCreatePartition"),)
        assert "HV_STATUS_ACCESS_DENIED" in reply_text(app)
        assert "blocked by hypercall-only-access" in reply_text(app)
        ev = session.event
        assert ev.kind is EventKind.MOVE and ev.name == "reply" and ev.move == 1
        assert field.value == "A: "  # ready for the next move, as the same principal

        await pilot.press(*"frobnicate", "enter")
        await pilot.pause()
        assert "unknown action 'frobnicate'" in reply_text(app)
        assert field.value == "A: frobnicate"  # stays for editing
        assert len(session.spec.moves) == 1

        field.value = ""
        await pilot.press("up")
        assert field.value == "A: hypercall HvCallCreatePartition"
        await pilot.press("escape")
        await pilot.pause()
        assert not line.is_open and app.screen.focused is not field

        await pilot.press("u")
        await pilot.pause()
        assert session.spec.moves == ()
        assert session.lab.digest == original


async def test_help_and_undo_on_the_line(catalogue):
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        session.goto(700)
        await pilot.press("colon")
        await pilot.pause()
        field = app.screen.query_one(MoveInput)
        assert field.value == "A: "  # the line comes with the principal typed
        field.value = "A: help hypercall MapGpaPages"  # help after it works as help alone
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, Report)  # more lines than the reply has: a dialog
        body = " ".join(str(app.screen.query_one("#report-body").render()).split())
        assert "target_gpa_base @8" in body
        await pilot.press("escape")
        await pilot.pause()
        assert field.value == "A: " and app.screen.focused is field
        field.value = "undo"
        await pilot.press("enter")
        await pilot.pause()
        assert "no move to take back" in reply_text(app)
        field.value = "B: read 0x1000"
        await pilot.press("enter")
        await pilot.pause()
        assert "16 bytes" in reply_text(app) and "done" in reply_text(app)
        field.value = "undo"
        await pilot.press("enter")
        await pilot.pause()
        assert "took back move 1" in reply_text(app)
        assert session.spec.moves == ()


async def test_after_a_move_on_a_long_run_the_rest_is_computed_and_the_status_says_so(catalogue):
    app = lab_app(catalogue, workload="busy")
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        session.goto(session.lab.last // 2)
        await pilot.press("colon")
        await pilot.pause()
        app.screen.query_one(MoveInput).value = "A: read 0x1000"
        await pilot.press("enter")
        await pilot.pause()
        while not session.lab.finished:
            await pilot.pause()
        await pilot.pause()
        status = str(app.screen.query_one("#status").content)
        assert "computing" not in status and "1 move" in status
        assert "done, nothing refused it" in reply_text(app)


async def test_narration_mode_takes_the_same_move_lines(catalogue):
    from hvlab.session import RunSpec, Session
    from hvlab.tui.app import HvlabApp
    from hvlab.tui.dialogs import Ask
    from hvlab.tui.narration_screen import NarrationScreen

    session = Session(RunSpec("boot"), catalogue)
    app = HvlabApp(catalogue, session, narrate=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, NarrationScreen)
        session.goto(700)
        await pilot.press("colon")
        await pilot.pause()
        assert isinstance(app.screen, Ask)
        app.screen.query_one("Input").value = "A: frobnicate"
        await pilot.press("enter")
        await pilot.pause()
        assert any("unknown action 'frobnicate'" in line for line in screen.lines)
        assert isinstance(app.screen, Ask)  # back for editing, with the line
        assert app.screen.query_one("Input").value == "A: frobnicate"
        app.screen.query_one("Input").value = "A: hypercall HvCallCreatePartition"
        await pilot.press("enter")
        await pilot.pause()
        said = " ".join(screen.lines)
        assert "blocked by hypercall-only-access" in said
        assert "Your move 1: A: hypercall HvCallCreatePartition" in said
        await pilot.press("u")
        await pilot.pause()
        assert session.spec.moves == ()


async def test_y_offers_the_events_gpa_to_the_move_line(catalogue):
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=SIZE) as pilot:
        session = app.session
        step = next(
            e.step
            for e in session.lab.events
            if e.kind is EventKind.MEMORY and e.detail_dict().get("partition") == "B"
        )
        session.goto(step)
        await pilot.press("y")
        await pilot.pause()
        gpa = session.event.detail_dict()["gpa"]
        field = app.screen.query_one(MoveInput)
        assert field.value == f"B: read {gpa:#x}"
        await pilot.press("enter")
        await pilot.pause()
        assert session.spec.moves == ((step, f"B: read {gpa:#x}"),)
        await pilot.press("escape")
        session.goto(-1)
        await pilot.press("y")  # nothing touched before the first event: says so, opens nothing
        await pilot.pause()
        assert not app.screen.query_one(MoveLine).is_open


def test_a_whole_move_typed_after_the_prefilled_principal_is_that_move():
    """The line opens with "A: "; a lesson writes its moves whole ("A: write …"), and a learner
    who types one after the prefill means it — but a frame's text may hold ": "."""
    from hvlab.tui.move_line import typed_over_prefill

    assert typed_over_prefill("A: A: write 0x18000 0x10400") == "A: write 0x18000 0x10400"
    assert (
        typed_over_prefill("A: root: map A 0x30000 0xd8000 rw") == "root: map A 0x30000 0xd8000 rw"
    )
    assert typed_over_prefill("A: root.driver:r: read 0x1000") == "root.driver:r: read 0x1000"
    assert typed_over_prefill("A: write 0x18000 1") == "A: write 0x18000 1"
    assert typed_over_prefill("A: send net B note: hi") == "A: send net B note: hi"
