"""One whole lesson with the keyboard: predict, step, hint, goal reached, progress saved."""

from __future__ import annotations

from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.progress import Progress, read_file
from hvlab.lessons.runner import known_ids
from hvlab.tui.app import HvlabApp
from hvlab.tui.lab_screen import LabScreen
from hvlab.tui.start import StartScreen


def course(catalogue):
    lessons, errors = load_lessons([bundled_dir()], known_ids(catalogue))
    assert errors == []
    return lessons


async def test_walk_the_tour_with_the_keyboard(catalogue, tmp_path):
    path = tmp_path / "progress.toml"
    progress = Progress.open(path)
    app = HvlabApp(catalogue, lessons=course(catalogue), progress=progress)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, LabScreen) and screen.lesson.lesson.id == "tour"
        await pilot.press("n")
        assert app.session.cursor == -1  # the prediction comes first
        assert any("prediction" in n.message for n in app._notifications)
        await pilot.press("p", "2")
        assert progress.get("tour").predictions == {0: 1}
        await pilot.press("h")
        assert progress.get("tour").hints == {0: 1}
        await pilot.press("right_square_bracket")
        assert screen.lesson.index == 0  # the goal is not reached yet
        for _ in range(14):  # the root's SynIC set-up, then its first hypercall
            await pilot.press("n")
        assert screen.lesson.goal_met()
        await pilot.press("right_square_bracket")
        assert screen.lesson.index == 1
        assert app.session.event.name == "HvCallCreatePartition"  # the step's jump action
        assert not screen.lesson.goal_met()
        await pilot.press("e")
        await pilot.pause()
        assert screen.lesson.goal_met()
        await pilot.press("right_square_bracket")
        assert screen.lesson.index == 2  # the learner's first move comes next
    on_disk = read_file(path)[1]["tour"]
    assert on_disk.status == "in-progress" and on_disk.step == 2
    assert on_disk.predictions == {0: 1} and on_disk.hints == {0: 1}


async def test_switching_protections_is_part_of_a_lesson(catalogue, tmp_path):
    progress = Progress.open(tmp_path / "progress.toml")
    lessons = course(catalogue)
    lesson = next(x for x in lessons if x.id == "separate-address-spaces")
    app = HvlabApp(catalogue, lessons=lessons, progress=progress, lesson=lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.press("p", "2", "e")
        assert screen.lesson.goal_met()
        await pilot.press("right_square_bracket", "p", "2")
        assert not app.session.design.is_on("separate-address-spaces")  # the step's action
        await pilot.press("e")
        assert screen.lesson.goal_met() and progress.status(lesson.id) == "in-progress"
        await pilot.press("right_square_bracket")
        assert screen.lesson.index == 2 and app.session.design.is_on("separate-address-spaces")


async def test_the_lesson_list_shows_status_and_resets_after_asking(catalogue, tmp_path):
    progress = Progress.open(tmp_path / "progress.toml")
    progress.get("tour").status = "done"
    progress.save()
    app = HvlabApp(catalogue, lessons=course(catalogue), progress=progress)
    async with app.run_test(size=(100, 30)) as pilot:
        # the first unfinished lesson opens; o goes to the list
        assert app.screen.lesson.lesson.id != "tour"
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        options = app.screen.query_one("#lessons")
        shown = [options.get_option_at_index(i) for i in range(options.option_count)]
        # the course map: each part a heading, its lessons under it with their length
        headings = [str(o.prompt) for o in shown if o.disabled]
        assert headings[0] == "THE MACHINE" and "THE I/O PATH" in headings
        tour = next(i for i, o in enumerate(shown) if o.id == "tour")
        assert (
            tour == 1 and "done" in str(shown[tour].prompt) and "steps" in str(shown[tour].prompt)
        )
        assert "you will learn" in str(shown[tour].prompt)
        options.highlighted = tour
        await pilot.press("r", "1")  # "No"
        assert progress.status("tour") == "done"
        await pilot.press("r", "2")  # "Yes, reset"
        await pilot.pause()
        assert progress.status("tour") == "new"
        assert "tour" not in read_file(tmp_path / "progress.toml")[1]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LabScreen) and app.screen.lesson.lesson.id == "tour"


async def test_narration_mode_plays_a_lesson_in_plain_lines(catalogue, tmp_path):
    import re

    from hvlab.tui.narration_screen import NarrationScreen

    progress = Progress.open(tmp_path / "progress.toml")
    app = HvlabApp(catalogue, lessons=course(catalogue), progress=progress, narrate=True)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, NarrationScreen) and screen.lesson.lesson.id == "tour"
        lines = screen.lines
        assert any(line.startswith("Lesson A tour") for line in lines)
        assert any(line.startswith("Predict: How does the root ask") for line in lines)
        # before the commit the goal says what to do, not what comes of it
        assert "Goal: step (n) to the event the question is about." in lines
        assert not any("kind 'hypercall'" in line for line in lines)
        await pilot.press("n")
        assert lines[-1] == "First commit your prediction: press p."
        await pilot.press("p", "2", "h")
        assert lines[-2].startswith("You predicted: It calls HvCallCreatePartition")
        assert "Goal: step to an event of kind 'hypercall'" in lines[-2]
        assert lines[-1].startswith("Hint 1 (nudge): ")
        for _ in range(14):
            await pilot.press("n")
        assert "Goal reached ✓ — ] for the next step." in lines
        await pilot.press("right_square_bracket")
        total = len(screen.lesson.lesson.steps)
        assert any(
            line.startswith("Lesson A tour") and f"step 2 of {total}" in line for line in lines
        )
        assert not any(re.search("[\u2500-\u259f]", line) for line in lines)  # no box drawing
    assert progress.get("tour").step == 1
