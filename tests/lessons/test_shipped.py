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
    result = check_lesson(lesson, CAT)
    assert result.passed, result.message
    assert play(lesson, CAT) == (True, "")
    ok, why = play(lesson, CAT, lesson.known_bad)
    assert not ok and why.startswith(f"step {lesson.known_bad[0] + 1}: goal not reached")


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
