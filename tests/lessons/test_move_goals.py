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


def test_a_hypercalls_evidence_is_its_complete_event_unless_a_phase_is_named():
    """A status question's evidence is where the status is: the call's complete event, not its
    entry (which has none); a lesson may name another phase."""
    from hvlab.lessons.predict import Predict
    from hvlab.lessons.runner import evidence_step
    from hvlab.session import RunSpec, Session

    session = Session(RunSpec("boot"), load_catalogue([], echo=False))
    first = next(e for e in session.lab.events if e.name == "HvCallCreatePartition")
    for phase, expect in (("complete", "complete"), ("validate", "validate"), (None, "entry")):
        p = Predict("?", ("a", "b"), 0, evidence=("hypercall", "HvCallCreatePartition", phase))
        step = evidence_step(p, session)
        ev = session.lab.events[step]
        assert (ev.name, ev.phase.value) == ("HvCallCreatePartition", expect)
        assert step >= first.step


def test_a_shipped_hypercall_evidence_without_a_phase_reads_as_complete():
    lessons, errors = load_lessons([bundled_dir()], known_ids(load_catalogue([], echo=False)))
    assert not errors
    calls = [
        s.predict.evidence
        for lesson in lessons
        for s in lesson.steps
        if s.predict is not None and s.predict.evidence and s.predict.evidence[0] == "hypercall"
    ]
    assert calls and all(phase == "complete" for _kind, _name, phase in calls)


def test_a_step_whose_goal_needs_a_move_opens_its_run_at_the_end():
    """Moves fork at the cursor: a fresh run at step -1 has no guests yet, so a move step's run
    opens where the workload is done (a newcomer typed every move of lesson 04's step 3 at -1)."""
    lessons, _ = load_lessons([bundled_dir()], known_ids(load_catalogue([], echo=False)))
    lesson = next(x for x in lessons if x.id == "exclusive-guest-memory")
    cat = load_catalogue([], echo=False)
    for index, step in enumerate(lesson.steps):
        if step.action is not None and step.action.run:
            run = LessonRun(lesson, cat, step=index)
            at_end = run.session.cursor == run.session.lab.last
            assert at_end == bool(step.goal and step.goal.move), (index, run.session.cursor)


def test_a_switch_step_that_asks_a_prediction_replays_from_the_start():
    """Lesson 04's step 2 switches the policy off: landing where step 1's run ended showed the
    new run's events — the answer — before the prediction."""
    cat = load_catalogue([], echo=False)
    lessons, _ = load_lessons([bundled_dir()], known_ids(cat))
    lesson = next(x for x in lessons if x.id == "exclusive-guest-memory")
    run = LessonRun(lesson, cat)
    run.move("end")
    run.enter(1)
    assert run.step.action.switch_off and run.step.predict is not None
    assert run.session.cursor == -1 and not run.session.design.is_on("exclusive-guest-memory")
