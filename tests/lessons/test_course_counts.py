"""The course is built for doing: enough lessons and steps, most of them needing the learner's
own moves, and every action of the move language used somewhere."""

from __future__ import annotations

from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.runner import known_ids
from hvlab.lessons.schema import PARTS
from hvlab.model.scenarios.move_language import ACTIONS
from hvlab.plugins import load_catalogue


def course():
    cat = load_catalogue([], echo=False)
    lessons, errors = load_lessons([bundled_dir()], known_ids(cat))
    assert not errors, errors
    return lessons


def test_the_course_has_the_lessons_and_steps_it_promises():
    lessons = course()
    assert len(lessons) >= 24
    assert sum(len(lesson.steps) for lesson in lessons) >= 120
    needing_a_move = [x for x in lessons if any(s.goal and s.goal.move for s in x.steps)]
    assert len(needing_a_move) >= 12, [x.id for x in needing_a_move]


def test_every_action_of_the_move_language_is_taught():
    used = set()
    for lesson in course():
        for step in lesson.steps:
            for move in step.solution:
                if move.startswith("do "):
                    line = move.removeprefix("do ").split(":", 1)[1].split()
                    used.add(line[0])
    assert set(ACTIONS) <= used, set(ACTIONS) - used


def test_every_lesson_names_its_part_and_what_it_teaches():
    for lesson in course():
        assert lesson.part in PARTS, lesson.id
        assert lesson.learn, lesson.id


def test_every_wrong_choice_says_why_and_every_run_names_its_evidence():
    """Issue 19: a wrong answer is told why not; a step with a run of its own points at the
    event that shows the answer (hvlab check replays it and finds the event)."""
    missing = []
    for lesson in course():
        for i, step in enumerate(lesson.steps, 1):
            p = step.predict
            if p is None:
                continue
            where = f"{lesson.id}:{i}"
            wrong = [n for n in range(len(p.choices)) if n != p.answer and not p.why_not(n)]
            if wrong:
                missing.append(f"{where} has no 'wrong' line for choice(s) {wrong}")
            judged = step.goal is not None and step.goal.judged  # the J report shows it
            if (step.action is not None or step.goal is not None) and not judged and not p.evidence:
                missing.append(f"{where} has a run but no 'evidence'")
    assert not missing, missing
