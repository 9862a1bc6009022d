"""An exercise in the lab: the attack's run with the learner's code in the model, the check's
verdict for the status bar, and a re-check (`r`) that reads the file again."""

from __future__ import annotations

from pathlib import Path

from hvlab.exercises import Exercise, SlotHandler, UnreadableExercise, load_function
from hvlab.exercises.check import Report, check, load_defense
from hvlab.session import RunSpec, Session


class ExerciseLab:
    """`build()` gives the session to show and sets `report` (or `unreadable`)."""

    def __init__(self, exercise: Exercise, path: Path, catalogue) -> None:
        self.exercise, self.path, self.catalogue = exercise, path, catalogue
        self.report: Report | None = None
        self.unreadable: str | None = None

    def build(self) -> Session:
        """Load the file, check it, and open the first attack's run with it in place: for a
        slot, every protection on (the learner's check is the protection's); for a defense,
        the protection it stands in for off (the learner's defense on)."""
        ex, base = self.exercise, self.catalogue
        attack = base.attack(ex.attacks[0])
        off: tuple[str, ...] = ()
        cat = base
        try:
            if ex.kind == "defense":
                cat, _defense = load_defense(ex, self.path)
                off = (ex.protection,)
            else:
                fn = load_function(self.path, ex.function)
                cat = _with_slot(base, SlotHandler(ex.slot, fn, self.path, ex.function))
            self.report, self.unreadable = check(ex, self.path, base), None
        except UnreadableExercise as exc:
            # the run without the check, so that the attack the learner is to stop shows
            self.report, self.unreadable, cat, off = None, str(exc), base, (ex.protection,)
        return Session(RunSpec(attack.workload, attack.name, off=off), cat)

    def status(self) -> str:
        ex = self.exercise
        if self.unreadable is not None:
            return f"exercise {ex.id}: cannot load your file — {self.unreadable}"
        report = self.report
        if report is None:
            return f"exercise {ex.id}: not checked yet (r)"
        if report.ok:
            return f"exercise {ex.id}: PASS — your check stops the attacks, workloads work"
        first = report.findings[0]
        word = "ERROR" if first.part == "error" else f"FAIL ({first.part})"
        return f"exercise {ex.id}: {word} — {first.text}"

    def short_status(self) -> str:
        """For the status bar: the verdict in a few words (the notification has the rest)."""
        ex, report = self.exercise, self.report
        if self.unreadable is not None:
            return f"exercise {ex.id}: cannot load your file · r re-check"
        if report is None:
            return f"exercise {ex.id}: r to check"
        if report.ok:
            return f"exercise {ex.id}: PASS"
        part = "ERROR" if report.error else f"FAIL ({report.findings[0].part})"
        return f"exercise {ex.id}: {part} · r re-check"

    def lines(self) -> list[str]:
        if self.unreadable is not None:
            return [self.status()]
        return self.report.lines() if self.report else []


def _with_slot(base, handler):
    """A copy of the catalogue whose runs put the learner's check in its slot."""
    from dataclasses import replace

    return replace(base, slot_handler=handler)
