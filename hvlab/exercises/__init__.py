"""Exercises: the learner writes a check the model makes, and the model judges it.

An exercise (exercises/ID/exercise.toml, with starter.py and reference.py beside it) names a
slot of the model (hvlab/model/core/slots.py) — or, for a defense, a site plugins hook into —
the protection whose check it is, and the attacks that check must stop. `hvlab exercise check
ID FILE` loads the learner's file, puts its function in the slot and reports (check.py): the
attacks it must stop, the shipped workloads it must leave working, the other attacks' verdicts
it must leave unchanged.

The learner's code is fenced as plugin code is: its module runs under a time limit when it is
loaded, each run gives its calls one budget of seconds, what it raises or returns wrongly
becomes a `plugin-error` event naming the file (the oracle's verdict is then `error`), and it
sees only plain values and read-only mappings.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvlab.model.core import guard, slots
from hvlab.model.core.protections import known_protections
from hvlab.userfiles import shown

SCHEMA_VERSION = 1
LOAD_SECONDS = 2.0  # what the learner's module may take to run when it is loaded
RUN_SECONDS = 1.0  # what the learner's check may take in all in one run (it is asked often)
KINDS = ("slot", "defense")


class UnreadableExercise(ValueError):
    """The learner's file cannot be used: one line naming the file (exit 2)."""


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    summary: str
    kind: str  # "slot": a function in a model slot; "defense": a plugin file with a site hook
    slot: str  # the slot (kind "slot") or the site (kind "defense")
    function: str  # the function the learner's file defines (kind "slot")
    protection: str  # the protection whose check it is (slot), or that is off (defense)
    attacks: tuple[str, ...]  # what it must stop
    hints: tuple[str, ...]
    folder: Path
    cases: tuple[dict, ...] = ()  # edge cases: fields, and whether the check must refuse

    @property
    def starter(self) -> Path:
        return self.folder / "starter.py"

    @property
    def reference(self) -> Path:
        return self.folder / "reference.py"

    @property
    def progress_id(self) -> str:
        """The entry that records a pass in the progress file (its lessons table)."""
        return f"exercise-{self.id}"


def bundled_dir() -> Path:
    """exercises/ in a checkout, hvlab/exercises/data when installed."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "exercises", here.parent / "data"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "exercises"


def load_exercises(folder: Path | None = None) -> dict[str, Exercise]:
    """The shipped exercises, by id, in folder order. A broken one raises ValueError naming
    its file (a shipped exercise is checked by the test suite)."""
    out: dict[str, Exercise] = {}
    for path in sorted((folder or bundled_dir()).glob("*/exercise.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        try:
            ex = Exercise(
                id=doc["id"],
                title=doc["title"],
                summary=doc["summary"],
                kind=doc.get("kind", "slot"),
                slot=doc["slot"],
                function=doc.get("function", ""),
                protection=doc["protection"],
                attacks=tuple(doc["attacks"]),
                hints=tuple(doc.get("hints", ())),
                folder=path.parent,
                cases=tuple(doc.get("cases", ())),
            )
        except KeyError as exc:
            raise ValueError(f"{shown(path)}: missing field {exc}") from None
        if ex.kind not in KINDS or (ex.kind == "slot" and ex.slot not in slots.SLOTS):
            raise ValueError(f"{shown(path)}: unknown kind or slot '{ex.kind}/{ex.slot}'")
        if ex.protection not in known_protections():
            raise ValueError(f"{shown(path)}: unknown protection '{ex.protection}'")
        out[ex.id] = ex
    return out


# -- the learner's file -------------------------------------------------------------------------
def load_function(path: Path, name: str) -> Callable:
    """The function `name` from the learner's file, run as a fresh module under a time limit.
    UnreadableExercise (one line, the file and line) when it cannot be had."""
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableExercise(f"{shown(path)}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableExercise(f"{shown(path)}: cannot read it: {exc}") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise UnreadableExercise(f"{shown(path)}:{exc.lineno}: {exc.msg}") from None
    namespace: dict[str, Any] = {"__name__": f"hvlab_exercise_{path.stem}", "__file__": str(path)}
    try:
        guard.Budget(LOAD_SECONDS).call(exec, code, namespace)  # the learner's file, fenced
    except guard.PluginTimeout:
        raise UnreadableExercise(
            f"{shown(path)}: loading it took longer than {LOAD_SECONDS:g} s (a loop at the top "
            "level?)"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the learner's module may raise anything
        where = f"{shown(path)}:{_line(exc, path)}"
        raise UnreadableExercise(f"{where}: {guard.describe(exc)}") from None
    fn = namespace.get(name)
    if not callable(fn):
        raise UnreadableExercise(
            f"{shown(path)}: defines no function '{name}' (hvlab exercise start writes one to "
            "begin from)"
        )
    return fn


def _line(exc: BaseException, path: Path) -> str:
    """The learner's line the exception came from ('' when it is not theirs)."""
    tb, line = exc.__traceback__, ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = str(tb.tb_lineno)
        tb = tb.tb_next
    return line or "?"


class SlotHandler:
    """What the model calls at the exercise's slot (see core/slots.py): the learner's function
    under the run's budget. A failure — it raised, overran the budget, answered with something
    that is not an answer — is a plugin-error event naming the file; from then on the slot
    refuses, so the run goes on and decides nothing the learner's code did not."""

    def __init__(self, slot: str, fn: Callable, path: Path, function: str) -> None:
        self.slots = frozenset({slot})
        self.fn, self.path, self.function = fn, path, function
        self._machine = None
        self.budget = guard.Budget(RUN_SECONDS)
        self.failed: str | None = None  # in this run
        self.failures: list[str] = []  # in every run so far: what the check reports

    def __call__(self, m, slot: str, builtin: Callable, fields: dict) -> Any:
        if m is not self._machine:  # a new run: a new budget
            self._machine, self.budget, self.failed = m, guard.Budget(RUN_SECONDS), None
        if self.failed is not None:
            return f"your check failed earlier in this run: {self.failed}"
        try:
            answer = self.budget.call(lambda: self.fn(**fields))
            problem = answer_problem(slot, answer, fields)
        except KeyboardInterrupt:
            raise
        except guard.PluginTimeout:
            problem = f"took longer than {RUN_SECONDS:g} s in one run (a loop that never ends?)"
        except BaseException as exc:  # the learner's code may raise anything
            problem = f"{guard.describe(exc)} (line {_line(exc, self.path)})"
        if problem is None:
            return answer
        self.failed = problem
        self.failures.append(f"{self.path.name}: {self.function}() {problem}")
        guard.fail(m, "exercise", self.path.name, self.function, problem)
        return f"your check failed: {problem}"


def answer_problem(slot: str, answer: Any, fields: dict) -> str | None:
    """Why `answer` is not an answer the slot takes (None: it is)."""
    if slot == slots.STORAGE_BUFFER:
        if isinstance(answer, str):
            return None if answer else "returned an empty reason: say why it refuses"
        pages = fields["pages"]
        if not isinstance(answer, list | tuple) or len(answer) != len(pages):
            return (
                f"returned {_short(answer)}: return a list of {len(pages)} system frame "
                "number(s), one per page, or a string saying why the request is refused"
            )
        if not all(isinstance(f, int) and not isinstance(f, bool) and f >= 0 for f in answer):
            return f"returned {_short(answer)}: frame numbers are whole numbers ≥ 0"
        return None
    if answer is None or (isinstance(answer, str) and answer):
        return None
    return f"returned {_short(answer)}: return None to let it pass, or a string saying why not"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
