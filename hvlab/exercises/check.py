"""Judging a learner's check: the attacks it must stop, the workloads it must leave working, and
the other attacks it must leave as they were.

1. **Must stop.** For each of the exercise's attacks, the designs where its protection is the
   one that decides — with the model's own check the attack is stopped, with the protection
   switched off it gets through — are run again with the learner's check in the model's
   place. Each must be stopped; a failing design is named with the oracle's step and reason.
2. **Positive control.** Every shipped workload, every protection on, with the learner's
   check and with the model's: the runs must end in the same state (the same memory, disks,
   channels — every entry of the store). A check that refuses what the model lets pass breaks
   one, and the report names it and the step where the two runs part.
3. **Unchanged.** Every other attack, under every design (for a slot, those with its
   protection on), gets the verdict it gets with the model's check.

A failure of the learner's code (it raised, looped, answered with a non-answer) is an error
event of the run: the check stops there and names the file and the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hvlab.exercises import Exercise, SlotHandler, UnreadableExercise, load_function
from hvlab.lab import Lab
from hvlab.matrix import THROUGH, all_designs, attack_cells, design_text
from hvlab.model.core.canaries import ProbeOutcome
from hvlab.model.core.guard import describe
from hvlab.model.core.protections import Design
from hvlab.plugins import site_handler
from hvlab.userfiles import shown

PARTS = ("must stop", "positive control", "edge cases", "unchanged", "error")  # in their order
SKIPPED_WORKLOADS = (
    "busy",  # a benchmark's long loop: the others cover its paths
    "memory-probe",  # the attacks' probes, not legitimate work: must stop and unchanged judge them
)


@dataclass
class Finding:
    part: str  # "must stop", "positive control", "unchanged", "error"
    text: str


@dataclass
class Report:
    exercise: Exercise
    path: Path
    passed: list[str] = field(default_factory=list)  # one line per part that held
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def error(self) -> Finding | None:
        return next((f for f in self.findings if f.part == "error"), None)

    def lines(self) -> list[str]:
        head = "PASS" if self.ok else ("ERROR" if self.error else "FAIL")
        out = [f"{head}  exercise {self.exercise.id}: {self.path}"]
        parts = [(line.partition(":")[0], f"  ok    {line}") for line in self.passed]
        parts += [
            (f.part, f"  error {f.text}" if f.part == "error" else f"  FAIL  {f.part}: {f.text}")
            for f in self.findings
        ]
        out += [line for _part, line in sorted(parts, key=lambda p: PARTS.index(p[0]))]
        if self.ok:
            out.append("  your check stops the attacks and keeps every workload working")
        elif not self.error and self.exercise.hints:
            out.append("  stuck? hvlab exercise hint " + self.exercise.id)
        return out


def _failed(outcome: ProbeOutcome) -> bool:
    return outcome.result == "error" and "plugin '" in outcome.reason


@dataclass
class Trial:
    """How the learner's version runs: the keyword arguments that put it in the model (for a
    Lab and for the matrix's cells), where its attacks come from, the design of a deciding
    cell (a slot's check runs with its protection on; a defense, with it off), and what to say
    when the learner's code failed."""

    run: dict
    base: dict  # the same for the model's own check: the shipped plugins' sites
    attack: Callable
    cell: Callable[[frozenset[str]], frozenset[str]]
    failure: Callable[[], str]
    skip: str = ""  # the protection the unchanged part keeps on (a slot's)
    plugin: object = None  # a defense exercise: the learner's plugin module
    defense: str = ""  # and the defense id it registers
    slot: str | None = None  # the slot the learner's code is in (None: a defense plugin)


def check(exercise: Exercise, path: Path, cat) -> Report:
    """Judge the learner's file for `exercise` (UnreadableExercise when it cannot be loaded).
    `cat`: the catalogue the attacks come from (the shipped plugins)."""
    p = exercise.protection
    if exercise.kind == "defense":
        mine, defense = load_defense(exercise, path)
        trial = Trial(
            {"site_handler": site_handler(mine), "defenses": (defense,)},
            {"site_handler": site_handler(cat)},
            mine.attack,
            lambda off: off | {p},
            lambda: _plugin_failure(mine, path),
            plugin=mine.manager.get_plugin(path.stem),
            defense=defense,
        )
    else:
        fn = load_function(path, exercise.function)
        handler = SlotHandler(exercise.slot, fn, path, exercise.function)
        sites = site_handler(cat)
        trial = Trial(
            {"slot_handler": handler, "site_handler": sites},
            {"site_handler": sites},
            cat.attack,
            lambda off: off,
            lambda: handler.failures[0] if handler.failures else "your check failed",
            skip=p,
            slot=exercise.slot,
        )
    report = Report(exercise, path)
    # Every part runs, so a failing check still says which parts hold; only an error of the
    # learner's code (it raised, looped, answered with what is not an answer) stops it there.
    for part in (
        lambda: _must_stop(report, exercise, trial, cat),
        lambda: _positive_control(report, trial, cat),
        lambda: _edge_cases(report, exercise, path, trial),
        lambda: _unchanged(report, exercise, trial, cat),
    ):
        part()
        if report.error:
            break
    return report


def case_fields(slot: str, fields: dict) -> dict:
    """An edge case's fields as the model passes them: tuples, a read-only map, a frozenset."""
    from types import MappingProxyType

    out = dict(fields)
    for name in ("pages", "byte_counts"):
        if name in out:
            out[name] = tuple(out[name])
    if "guest_map" in out:  # TOML keys are strings: written as [page, frame, rights] triples
        out["guest_map"] = MappingProxyType({g: (f, r) for g, f, r in out["guest_map"]})
    if "mapped_in" in out:
        out["mapped_in"] = frozenset(out["mapped_in"])
    return out


def _answer(exercise: Exercise, path: Path, trial: Trial, fields: dict):
    """What the learner's code answers to one edge case: refuse → a reason, else None (or,
    for the storage slot, the frames). Raises what it raises."""
    if exercise.kind == "defense":
        from hvlab.model.core.sites import DefenseSite

        plugin = trial.plugin
        ctx = DefenseSite(exercise.slot, trial.defense, fields, None)
        getattr(plugin, f"hvlab_site_{exercise.slot.replace('-', '_')}")(ctx)
        return ctx._state.frame if ctx.refused else None
    return trial.run["slot_handler"].fn(**case_fields(exercise.slot, fields))


def _edge_cases(report: Report, exercise: Exercise, path: Path, trial: Trial) -> bool:
    """The exercise's edge cases, each a call the check must refuse or let pass: a check that
    stops the attack by a rule too narrow (a bound on a size no legitimate call reaches, a
    denylist of one call) fails here."""
    wrong = []
    for case in exercise.cases:
        fields = case["fields"]
        try:
            got = _answer(exercise, path, trial, fields)
        except Exception as exc:  # the learner's code: said as an error, with its line
            from hvlab.exercises import _line

            said = f"{path.name}: {exercise.function or 'the site hook'} {describe(exc)}"
            report.findings.append(
                Finding(
                    "error", f"{said} (line {_line(exc, path)}), on the edge case {case['why']}"
                )
            )
            return False
        refused = isinstance(got, str) and bool(got)
        if case.get("refuse", False) != refused:
            verb = "let it pass" if not refused else f"refused it ({got})"
            wrong.append(f"{case['why']}: your check {verb}")
        elif not refused and "frames" in case and list(got) != case["frames"]:
            wrong.append(f"{case['why']}: your check answered {list(got)}, not {case['frames']}")
    if wrong:
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        report.findings.append(Finding("edge cases", wrong[0] + more))
        return False
    if exercise.cases:
        report.passed.append(f"edge cases: all {len(exercise.cases)} answered as they must be")
    return True


def _plugin_failure(mine, path: Path) -> str:
    """The catalogue's line on the learner's failed plugin, said of the file."""
    said = mine.errors[-1] if mine.errors else "your defense failed"
    said = said.replace(f"plugin '{path.stem}'", path.name, 1)
    return said.replace("; blocked for this session", "")


def _error(report: Report, trial: Trial, where: str) -> bool:
    report.findings.append(Finding("error", f"{trial.failure()}, while the model ran {where}"))
    return False


def _must_stop(report: Report, exercise: Exercise, trial: Trial, cat) -> bool:
    p = exercise.protection
    for name in exercise.attacks:
        designs = all_designs()
        builtin, _asked = _builtin_cells(cat.attack(name), designs, trial.base)
        deciding = [
            trial.cell(off)
            for off in designs
            if p not in off and builtin[off] not in THROUGH and builtin[off | {p}] in THROUGH
        ]
        outcomes: dict = {}
        attack_cells(trial.attack(name), deciding, outcomes=outcomes, **trial.run)
        bad = []
        for off in deciding:
            got = outcomes[off]
            if _failed(got):
                return _error(report, trial, f"{name} under {design_text(off)}")
            if got.result in THROUGH:
                bad.append((off, got))
        if not bad:
            report.passed.append(
                f"must stop: {name} stopped in all {len(deciding)} designs where {p} decides"
            )
            continue
        off, got = bad[0]
        if got.result == "breached":
            why = f": {got.canary or 'a secret'} reached {got.principal or 'the attacker'}"
        else:
            why = f": {got.reason}" if got.reason else ""
        others = len(bad) - 1
        more = f", and in {others} other design{'s' if others > 1 else ''}" if others else ""
        report.findings.append(
            Finding("must stop", f"{name} {got.result} under {design_text(off)}{why}{more}")
        )
    return not report.findings


def _positive_control(report: Report, trial: Trial, cat) -> bool:
    workloads = [
        w for w, spec in cat.workloads.items() if w not in SKIPPED_WORKLOADS and not spec.plugin
    ]
    for name in workloads:
        theirs, asked = _builtin_lab(name, trial.base, trial.slot)
        if not asked:
            continue  # it never comes to the slot: the same run with the learner's code
        mine = Lab(name, Design(frozenset()), **trial.run)
        if mine.outcome.failures:
            return _error(report, trial, f"the workload {name}")
        if mine.state.digest() != theirs.state.digest():
            step = _first_change(theirs, mine)
            report.findings.append(
                Finding(
                    "positive control",
                    f"workload {name} no longer does what it does with the model's own check "
                    f"(from step {step}, {_event_text(theirs, step)}): yours refuses something "
                    "legitimate",
                )
            )
            return False
    report.passed.append(f"positive control: all {len(workloads)} workloads work as before")
    return True


# The model's own verdicts and runs do not depend on the learner's code: computed once a process
# (a watch loop, the lab's re-checks, the test suite check many files against the same model).
_CELLS: dict = {}
_LABS: dict = {}


class _Asked:
    """A pass-through in a slot: the model's own check answers, and `asked` says whether any
    run came to the slot at all. A run that never does is the same with the learner's code
    (the two runs are one until the first ask), so its verdict cannot change."""

    def __init__(self, slot: str | None) -> None:
        self.slots = frozenset({slot}) if slot else frozenset()
        self.asked = False

    def __call__(self, m, slot, builtin, fields):
        self.asked = True
        return builtin()


def _builtin_cells(attack, designs: list, base: dict, slot: str | None = None):
    """The model's own verdicts, and whether any of those runs came to `slot`."""
    key = (attack.name, attack.plugin, tuple(designs), slot)
    if key not in _CELLS:
        asked = _Asked(slot)
        cells = attack_cells(attack, designs, slot_handler=asked if slot else None, **base)[0]
        _CELLS[key] = (cells, asked.asked or slot is None)
    return _CELLS[key]


def _builtin_lab(workload: str, base: dict, slot: str | None = None) -> tuple[Lab, bool]:
    """The model's own run of a workload, and whether it came to `slot`."""
    if (workload, slot) not in _LABS:
        asked = _Asked(slot)
        lab = Lab(workload, Design(frozenset()), slot_handler=asked if slot else None, **base)
        _LABS[workload, slot] = (lab, asked.asked or slot is None)
    return _LABS[workload, slot]


def _first_change(theirs: Lab, mine: Lab) -> int:
    """The first step where the two runs change the machine differently (a refusal's reason
    may differ in words: only what the runs do counts)."""
    for a, b in zip(theirs.events, mine.events, strict=False):
        if (a.actor, a.kind, a.name, a.changes) != (b.actor, b.kind, b.name, b.changes):
            return a.step
    return min(len(theirs.events), len(mine.events))


def _event_text(lab: Lab, step: int) -> str:
    if step >= len(lab.events):
        return "the end of the run"
    ev = lab.events[step]
    return f"where the model's run has {ev.actor} {ev.kind.value} {ev.name}"


def _unchanged(report: Report, exercise: Exercise, trial: Trial, cat) -> None:
    """Every other built-in attack under every design (a slot's: those with its protection
    on, where the learner's check runs) gets the verdict it gets with the model's check."""
    singles = [d for d in all_designs() if trial.skip not in d]
    changed = []
    for attack in cat.attacks.values():
        if attack.name in exercise.attacks or attack.plugin != "hvlab-attacks":
            continue
        outcomes: dict = {}
        builtin, asked = _builtin_cells(attack, singles, trial.base, trial.slot)
        if not asked:
            continue  # no run of it comes to the slot: the learner's code cannot change it
        attack_cells(trial.attack(attack.name), singles, outcomes=outcomes, **trial.run)
        for off in singles:
            got = outcomes[off]
            if _failed(got):
                _error(report, trial, f"{attack.name} under {design_text(off)}")
                return
            if got.result != builtin[off]:
                was = builtin[off]
                changed.append(f"{attack.name} under {design_text(off)}: {was} → {got.result}")
    if changed:
        report.findings.append(Finding("unchanged", "; ".join(changed[:3])))
    else:
        report.passed.append(
            f"unchanged: every other attack gets the verdict it got, in all {len(singles)} designs"
        )


def load_defense(exercise: Exercise, path: Path):
    """The catalogue with the learner's plugin file loaded, and the defense id it registers.
    UnreadableExercise when it does not load or registers no defense."""
    from hvlab.plugin_calls import SITE_HOOKS
    from hvlab.plugins import load_catalogue

    if not path.is_file():
        raise UnreadableExercise(f"{shown(path)}: no such file")
    mine = load_catalogue([str(path)], echo=False)
    if mine.errors:
        raise UnreadableExercise(mine.errors[0])
    ours = [pid for pid, (_text, plugin) in mine.defenses.items() if plugin == path.stem]
    if len(ours) != 1:
        raise UnreadableExercise(
            f"{shown(path)}: registers {len(ours)} defenses; register one with "
            "hvlab_register_defenses (hvlab exercise start writes a file to begin from)"
        )
    hook = SITE_HOOKS[exercise.slot]
    plugin = mine.manager.get_plugin(path.stem)
    if plugin is None or not hasattr(plugin, hook):
        raise UnreadableExercise(f"{shown(path)}: implements no {hook}(ctx)")
    return mine, ours[0]
