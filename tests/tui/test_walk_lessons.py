"""Three lessons walked end to end through the keyboard, as a learner would: commit each
prediction, follow the reference solution with the keys it stands for — `e` for end, `n` for a
step, the `:` line for each move the learner types, `t` to switch a protection, `J` to judge
the moves under every design — and move on with `]` once the goal holds."""

from __future__ import annotations

import pytest

from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.progress import Progress
from hvlab.lessons.runner import known_ids
from hvlab.tui.app import HvlabApp
from hvlab.tui.dialogs import Report
from hvlab.tui.lab_screen import LabScreen
from hvlab.tui.move_line import MoveInput, MoveLine
from hvlab.tui.protections import Protections


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()


async def play(pilot, app, move: str) -> None:
    """One move of a solution, by the key the learner would press."""
    word, _, rest = move.partition(" ")
    if word == "end":
        await pilot.press("e")
    elif word == "step":
        for _ in range(int(rest or 1)):
            await pilot.press("n")
    elif word == "do":
        await pilot.press("colon")
        await settle(pilot)
        field = app.screen.query_one(MoveInput)
        field.value = rest  # the line as typed, principal included
        await pilot.press("enter")
        await settle(pilot, 2)
        await pilot.press("escape")
    elif word == "switch-off" and not app.session.design.is_on(rest):
        pass  # already off: as the solution's runner, the learner leaves it
    elif word == "switch-off":
        await pilot.press("t")
        await settle(pilot)
        listing = app.screen.query_one(Protections)
        row = next(
            i for i in range(listing.option_count) if listing.get_option_at_index(i).id == rest
        )
        for _ in range(row):
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)
        assert not app.session.design.is_on(rest)
    elif word == "judge":
        await pilot.press("J")
        for _ in range(400):  # the judgement runs in a worker: wait for its report
            if isinstance(app.screen, Report):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, Report), "no report after J"
        await pilot.press("escape")
    else:  # not a key this walk knows: the test says so rather than skip it
        raise AssertionError(f"the walk has no key for {move!r}")
    await settle(pilot)


@pytest.mark.parametrize("lesson_id", ["your-own-moves", "storage-by-hand", "capstone"])
async def test_a_lesson_walked_with_typed_moves_reaches_every_goal(catalogue, lesson_id):
    lessons, _ = load_lessons([bundled_dir()], known_ids(catalogue))
    lesson = next(x for x in lessons if x.id == lesson_id)
    progress = Progress.in_memory()
    app = HvlabApp(catalogue, lessons=[lesson], lesson=lesson, progress=progress)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        moved = 0
        for n, step in enumerate(lesson.steps):
            screen = app.screen
            assert isinstance(screen, LabScreen) and screen.lesson.index == n
            if step.predict is not None:
                await pilot.press("p", str(step.predict.answer + 1))
                await settle(pilot)
                assert not screen.prediction_pending
            for move in step.solution:
                await play(pilot, app, move)
                moved += move.startswith("do ")
            if step.goal is not None:
                assert screen.lesson.goal_met(), (lesson_id, n + 1, step.title)
            assert not screen.query_one(MoveLine).is_open
            if n + 1 < len(lesson.steps):
                await pilot.press("right_square_bracket")
                await settle(pilot)
        assert moved >= 1  # the learner typed moves, not only watched
        assert progress.status(lesson_id) == "done"
