"""Playing a lesson against the model: actions, the learner's moves, and goals.

Goals are judged by the model's own verdicts (the oracle's probe outcomes, the events' paths),
never by positions or screen contents. The TUI and `hvlab check` both drive this class.
"""

from __future__ import annotations

from hvlab.lessons.schema import Action, Goal, Lesson
from hvlab.matrix import THROUGH
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import PRESETS, known_protections
from hvlab.model.core.topology import build
from hvlab.model.scenarios.workloads import WORKLOADS
from hvlab.plugins import Catalogue
from hvlab.session import RunSpec, Session


def known_ids(cat: Catalogue) -> dict[str, tuple[str, ...]]:
    """Every id a lesson may name, for checking lesson files."""
    from hvlab.model.core.protections import Design

    nodes = {n.id for preset in PRESETS for n in build(Design.preset(preset)).nodes}
    nodes |= {n.id for n in build(Design(frozenset(known_protections()))).nodes}
    return {
        "plugins": tuple(p.name for p in cat.plugins),
        "workloads": tuple(cat.workloads or WORKLOADS),
        "attacks": tuple(cat.attacks),
        "protections": known_protections(cat.extra_protections),
        "presets": tuple(sorted(PRESETS)),
        "kinds": tuple(k.value for k in EventKind),
        "nodes": tuple(sorted(nodes)),
    }


def move_goal_met(goal: Goal, session: Session) -> bool:
    """A move of the learner's whose events and verdict are what the goal asks, reached."""
    lab = session.lab
    for number in range(1, len(lab.moves) + 1):
        verdict = lab.outcome.move(number)
        events = [e for e in lab.events if e.move == number]
        if verdict is None or not events or lab.cursor < events[0].step:
            continue
        if goal.result and verdict.result != goal.result:
            continue
        if goal.by and goal.by not in verdict.blocked_by:
            continue
        if goal.breach and (verdict.result != "breached" or verdict.canary != goal.breach):
            continue
        if (goal.kind or goal.status) and not any(
            (goal.kind is None or e.kind.value == goal.kind)
            and (goal.status is None or getattr(e.status, "label", None) == goal.status)
            for e in events
        ):
            continue
        return True
    return False


def evidence_step(predict, session: Session) -> int | None:
    """The step of the event a prediction's `evidence` names in the session's run: the first
    of the learner's last move, else the first inside an attack's probe or any move, else the
    first anywhere (None: not in this run)."""
    if predict is None or predict.evidence is None:
        return None
    kind, name, phase = predict.evidence
    hits = [
        e
        for e in session.lab.events
        if e.kind.value == kind
        and (name is None or e.name == name)
        and (phase is None or e.phase.value == phase)
    ]
    last = f"move:{len(session.lab.moves)}" if session.lab.moves else None
    mine = [e for e in hits if last is not None and e.scope == last]
    scoped = [e for e in hits if e.scope]
    return (mine or scoped or hits)[0].step if hits else None


def judged_goal_met(goal: Goal, session: Session) -> bool:
    """The session's current moves were judged under every design, with the result asked."""
    judged = session.judged
    if judged is None:
        return False
    through = [c.result in THROUGH for c in judged.cells.values()]
    if goal.judged == "stoppable":
        return judged.mine.result in THROUGH and not all(through)
    if goal.judged == "unstoppable":
        return all(through)
    return True


def goal_met(goal: Goal, session: Session) -> bool:
    lab = session.lab
    if goal.judged:
        return judged_goal_met(goal, session)
    if goal.move:
        return move_goal_met(goal, session)
    if goal.kind:
        for ev in lab.events[: lab.cursor + 1]:
            if ev.kind.value == goal.kind and goal.crossed in ev.path:
                return True
        return False
    if any(session.design.is_on(p) for p in goal.off):
        return False
    for probe in lab.outcome.probes:
        if probe.name != goal.attack or probe.result != goal.result:
            continue
        if goal.by and probe.protection != goal.by:
            continue
        # the learner must have reached the step where it was decided
        return probe.step is not None and lab.cursor >= probe.step
    return False


class LessonRun:
    """A lesson in progress: the current step, its session, and the moves made."""

    def __init__(self, lesson: Lesson, catalogue: Catalogue, step: int = 0) -> None:
        self.lesson = lesson
        self.catalogue = catalogue
        self.session: Session | None = None
        self.index = -1
        self.reached: set[int] = set()  # steps whose goal held once (the TUI keeps them met)
        for i in range(step + 1):  # replay earlier steps' actions: the state they leave
            self.enter(i)

    @property
    def step(self):
        return self.lesson.steps[self.index]

    def enter(self, index: int) -> None:
        self.index = index
        action = self.step.action
        if action is not None:
            self.apply(action)
        elif self.session is None:
            self.session = Session(RunSpec(), self.catalogue)

    def apply(self, action: Action) -> None:
        if action.run:
            spec = RunSpec(action.run, action.attack, action.design, action.off, action.seed)
            self.session = Session(spec, self.catalogue)
            self._place_cursor(switched=False)
            return
        if self.session is None:
            self.session = Session(RunSpec(), self.catalogue)
        s = self.session
        if action.switch_off and s.design.is_on(action.switch_off):
            s.toggle(action.switch_off)
        elif action.switch_on and not s.design.is_on(action.switch_on):
            s.toggle(action.switch_on)
        if action.switch_off or action.switch_on:
            self._place_cursor(switched=True)
        elif action.jump:
            for ev in s.lab.events:
                if ev.kind.value == action.jump and (action.name in (None, ev.name)):
                    s.goto(ev.step)
                    break

    def _place_cursor(self, switched: bool) -> None:
        """Where a step's new run opens: at its end when the goal needs the learner's moves
        (they go after the workload's own; at step -1 no guest exists yet); at its start when a
        switched replay asks a prediction (not where the last run ended, past the answer)."""
        goal, s = self.step.goal, self.session
        if goal is not None and goal.needs_moves:
            s.goto(s.lab.last)
        elif switched and self.step.predict is not None:
            s.goto(-1)

    def move(self, move: str) -> None:
        """One learner move, as written in solutions: end, step [N], back [N], next-decision,
        goto N, switch-off ID, switch-on ID, design PRESET, do PRINCIPAL: ACTION ARGS."""
        s = self.session
        verb, _, arg = move.partition(" ")
        if verb == "end":
            s.goto(s.lab.last)
        elif verb == "step":
            s.step(int(arg) if arg else 1)
        elif verb == "back":
            s.back(int(arg) if arg else 1)
        elif verb == "next-decision":
            s.next_decision()
        elif verb == "goto":
            s.goto(int(arg))
        elif verb in ("switch-off", "switch-on") and s.design.is_on(arg) == (verb == "switch-off"):
            s.toggle(arg)
        elif verb == "design":
            s.set_preset(arg)
        elif verb == "do":
            s.do(arg)
        elif verb == "judge":
            s.judge()

    def goal_met(self) -> bool:
        goal = self.step.goal
        return goal is None or goal_met(goal, self.session)

    def goal_reached(self) -> bool:
        """The goal holds now or held once on this step: stepping back to read an earlier
        event (the evidence a wrong answer is pointed at) does not take a reached goal away."""
        if self.step.goal is None or self.index in self.reached:
            return True
        if self.goal_met():
            self.reached.add(self.index)
            return True
        return False

    @property
    def last_step(self) -> bool:
        return self.index == len(self.lesson.steps) - 1


def play(lesson: Lesson, catalogue: Catalogue, replace_moves=None) -> tuple[bool, str]:
    """Play every step with its solution (or, for one step, other moves); (passed, why not)."""
    run = LessonRun(lesson, catalogue)
    for i, step in enumerate(lesson.steps):
        if i:
            run.enter(i)
        moves = step.solution
        if replace_moves is not None and replace_moves[0] == i:
            moves = replace_moves[1]
        for move in moves:
            run.move(move)
        if not run.goal_met():
            return False, f"step {i + 1}: goal not reached ({step.goal.describe()})"
        evidence = step.predict.evidence if step.predict is not None else None
        if evidence is not None and evidence_step(step.predict, run.session) is None:
            what = step.predict.evidence_text()
            return False, f"step {i + 1}: no event '{what}' (the evidence) in the run"
    return True, ""
