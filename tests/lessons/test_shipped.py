"""Every shipped lesson: loads, its reference moves reach every goal, its known-bad moves miss."""

from __future__ import annotations

import pytest

from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.check import check_lesson
from hvlab.lessons.runner import LessonRun, known_ids, play
from hvlab.model.core.protections import Protection
from hvlab.plugins import load_catalogue

CAT = load_catalogue([], echo=False)
LESSONS, ERRORS = load_lessons([bundled_dir()], known_ids(CAT))


def test_the_shipped_lessons_all_load():
    assert ERRORS == []
    assert len(LESSONS) >= 12
    assert LESSONS[0].id == "tour"


def test_every_protection_has_its_lesson_and_the_course_has_its_topics():
    ids = {lesson.id for lesson in LESSONS}
    assert {p.value for p in Protection} <= ids
    assert {
        "tour",
        "storage-path",
        "defense-in-depth",
        "root-attack-surface",
        "sdl-quality-gate",
    } <= ids


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.id)
def test_reference_passes_and_known_bad_fails(lesson):
    assert lesson.known_bad is not None, f"{lesson.path} has no [known_bad]"
    assert all(step.goal is None or step.solution for step in lesson.steps)
    # (check_lesson plays these same two: test_commands runs it through `hvlab check`)
    assert play(lesson, CAT) == (True, "")
    ok, why = play(lesson, CAT, lesson.known_bad)
    assert not ok and why.startswith(f"step {lesson.known_bad[0] + 1}: goal not reached")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.id)
def test_runs_handed_on_between_steps_give_the_same_verdicts(lesson):
    """hvlab check hands a built run on to the next step that asks for the same spec: each
    lesson's reference and known-bad moves play the same that way as with fresh runs (above),
    and the sharing ends with the check."""
    from hvlab import shared_runs

    with shared_runs.sharing_runs():
        assert play(lesson, CAT) == (True, "")
        ok, why = play(lesson, CAT, lesson.known_bad)
        assert shared_runs.CACHE  # runs were handed on
    assert not ok and why.startswith(f"step {lesson.known_bad[0] + 1}: goal not reached")
    assert shared_runs.CACHE is None


def test_a_lesson_without_known_bad_moves_fails_the_check():
    from dataclasses import replace

    result = check_lesson(replace(LESSONS[1], known_bad=None), CAT)
    assert not result.passed and "no [known_bad]" in result.message


def test_goals_need_the_learner_to_reach_the_deciding_step():
    lesson = next(x for x in LESSONS if x.id == "separate-address-spaces")
    run = LessonRun(lesson, CAT)
    assert not run.goal_met()  # the run is blocked, but the learner has not seen it yet
    probe = run.session.lab.outcome.probes[0]
    run.move(f"goto {probe.step - 1}")
    assert not run.goal_met()
    run.move("step")
    assert run.goal_met()


def _simplification_rows() -> set[str]:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text()
    table = text.split("## Simplifications, each on purpose", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")]
    return set(rows[1:]) - {"where"}


def test_every_simplification_a_lesson_names_is_a_row_of_the_table():
    rows = _simplification_rows()
    assert "machine size" in rows and len(rows) >= 20
    named = {(lesson.id, s) for lesson in LESSONS for s in lesson.simplifies}
    assert len({lid for lid, _ in named}) >= 10
    assert [(lid, s) for lid, s in named if s not in rows] == []


def test_the_lesson_pane_names_the_simplifications_and_the_table():
    from rich.console import Console

    from hvlab.lessons.progress import LessonProgress
    from hvlab.tui.lesson_pane import lesson_view

    lesson = next(lesson for lesson in LESSONS if lesson.id == "exclusive-guest-memory")
    console = Console(width=200, record=True)
    console.print(lesson_view(LessonRun(lesson, CAT), LessonProgress(), "04"))
    text = console.export_text()
    assert "The model simplifies here: one frame in two children" in text
    assert "docs/model.md (Simplifications)" in text
    tour = next(lesson for lesson in LESSONS if lesson.id == "sdl-quality-gate")
    console = Console(width=200, record=True)
    console.print(lesson_view(LessonRun(tour, CAT), LessonProgress(), "13"))
    assert "simplifies here" not in console.export_text()
