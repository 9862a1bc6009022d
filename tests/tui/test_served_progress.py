"""Under `hvlab serve`, a browser session never shares the teacher's progress file: by default
it keeps progress in memory and says so; with --progress-dir each student's progress is a file
of their own, keyed by a name they type (and that is checked)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from hvlab.commands.common import PROGRESS_DIR, SERVED, open_progress
from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.progress import SERVED_IN_MEMORY, Progress, read_file, student_name
from hvlab.lessons.runner import known_ids
from hvlab.tui.app import HvlabApp
from hvlab.tui.dialogs import Ask
from hvlab.tui.lab_screen import LabScreen
from hvlab.tui.start import StartScreen


@pytest.fixture
def lessons(catalogue):
    return load_lessons([bundled_dir()], known_ids(catalogue))[0]


def test_a_served_session_does_not_open_the_teachers_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HVLAB_DATA_DIR", str(tmp_path))
    teacher = Progress.open()
    teacher.get("tour").status = "done"
    teacher.save()
    monkeypatch.setenv(SERVED, "1")
    monkeypatch.delenv(PROGRESS_DIR, raising=False)
    served = open_progress()
    assert served.lessons == {} and served.read_only and served.note == SERVED_IN_MEMORY
    served.get("tour").status = "new"
    served.save()  # kept in memory only
    assert read_file(tmp_path / "progress.toml")[1]["tour"].status == "done"


async def test_the_start_screen_says_progress_is_in_memory(catalogue, lessons):
    app = HvlabApp(catalogue, lessons=lessons, progress=Progress.in_memory(SERVED_IN_MEMORY))
    async with app.run_test(size=(120, 40)) as pilot:
        app.show_start()
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        note = app.screen.query_one("#progress-note")
        assert "memory only" in str(note.render())


@pytest.mark.parametrize("bad", ["", "../teacher", "a b", "x" * 41, "Ω"])
def test_a_student_name_is_checked(bad):
    with pytest.raises(ValueError, match="letters, digits and dashes"):
        student_name(bad)


async def test_each_student_gets_a_file_of_their_own(catalogue, lessons, tmp_path):
    folder = tmp_path / "class"
    app = HvlabApp(catalogue, lessons=lessons, progress=Progress.in_memory(), progress_dir=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, Ask)
        app.screen.query_one(Input).value = "../etc"  # refused: asked again, nothing written
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, Ask) and not folder.exists()
        app.screen.query_one(Input).value = "Ada-L"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LabScreen)  # the first lesson, for this student
        assert app.progress.path == folder / "ada-l.toml"
        await pilot.press("h")  # a hint is progress: saved in the student's file
        await pilot.pause()
    assert read_file(folder / "ada-l.toml")[1]["tour"].hints
