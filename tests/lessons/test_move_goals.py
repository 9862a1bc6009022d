"""Lesson goals that only the learner's own move reaches, and `do` moves in solutions."""

from __future__ import annotations

from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.runner import LessonRun, known_ids
from hvlab.plugins import load_catalogue

CAT = load_catalogue([], echo=False)
LESSONS, _ = load_lessons([bundled_dir()], known_ids(CAT))


def at_move_step():
    lesson = next(x for x in LESSONS if x.id == "hypercall-only-access")
    index = next(i for i, s in enumerate(lesson.steps) if s.goal and s.goal.move)
    return LessonRun(lesson, CAT, step=index)


def test_watching_does_not_reach_a_move_goal():
    run = at_move_step()
    run.move("end")
    assert not run.goal_met()
    assert run.step.goal.describe().startswith("make a move yourself (:)")


def test_a_move_that_gets_another_status_does_not_reach_it():
    run = at_move_step()
    run.move("end")
    run.move("do A: hypercall HvCallGetPartitionId")
    assert run.session.lab.outcome.move(1).result == "done"
    assert not run.goal_met()


def test_the_learners_own_refused_call_reaches_it_and_undo_takes_it_away():
    run = at_move_step()
    run.move("end")
    run.move("do A: hypercall HvCallCreatePartition")
    assert run.goal_met()
    run.session.undo()
    assert not run.goal_met()
