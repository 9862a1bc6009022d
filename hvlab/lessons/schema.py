"""The lesson file format (schema_version 1) and its reader.

schema_version = 1
id = "separate-address-spaces"        # lowercase letters, digits and dashes
title = "..."
summary = "..."
prerequisites = ["tour"]               # ids of lessons to do first (optional)
simplifies = ["machine size"]          # rows of docs/model.md's simplification table it rests on

[[steps]]
title = "..."                          # optional
narration = '''Markdown'''
action = { run = "boot", attack = "hv-read", design = "hyperv", off = [], seed = 0 }
#   or { switch_off = "ID" } / { switch_on = "ID" } / { jump = "hypercall", name = "..." }
predict = { prompt = "...", choices = ["...", "..."], answer = 0 }   # optional
hints = ["nudge", "pointer", "walkthrough", "reveal"]               # optional, ≤ 4
goal = { attack = "hv-read", result = "blocked", by = "separate-address-spaces" }
#   or { attack = "...", result = "breached", off = ["ID"] }
#   or { kind = "hypercall", crossed = "hypervisor" }
#   or { move = true, kind = "hypercall", status = "HV_STATUS_ACCESS_DENIED" }   (the learner's
#      own move: optional kind, status, breach = "B-secret", result = "blocked", by = "ID")
solution = ["end"]                     # the moves that reach the goal (required with a goal);
#   "do A: read 0x28000" makes a move on the ':' line

[known_bad]                            # moves that must NOT reach that step's goal
step = 2
moves = ["end"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hvlab.lessons.predict import Predict, read_predict
from hvlab.lessons.toml_reader import LessonError, TableReader
from hvlab.userfiles import (
    InputFileError,
    decode,
    parse_toml,
    read_file,
    shown,
)

SCHEMA_VERSION = 1
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")  # whole ids only: fullmatch
MOVES = (
    "end", "step", "back", "next-decision", "goto", "switch-off", "switch-on", "design", "do",
    "judge",
)  # fmt: skip
# a judged goal: the learner's moves judged under every design (J), and what that showed
JUDGED = {
    "any": "judge your moves under every design (J)",
    "stoppable": "make moves that get through your design, then judge them under every design "
    "(J): the lab names what would have stopped them",
    "unstoppable": "make moves that get through under every design, every protection on "
    "included, and judge them (J)",
}
MOVE_RESULTS = ("blocked", "breached", "done")
RESULTS = ("blocked", "breached", "unavailable")
WHOLE = re.compile(r"-?[0-9]{1,9}")  # ASCII digits only: '²' is a digit to str.isdigit
MAX_MOVE = 10_000_000  # more steps than any run has


@dataclass(frozen=True)
class Action:
    run: str | None = None
    attack: str | None = None
    design: str = "hyperv"
    off: tuple[str, ...] = ()
    seed: int = 0
    switch_off: str | None = None
    switch_on: str | None = None
    jump: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Goal:
    attack: str | None = None
    result: str | None = None
    by: str | None = None
    off: tuple[str, ...] = ()
    kind: str | None = None
    crossed: str | None = None
    move: bool = False  # reached only by a move of the learner's own (the ':' line)
    status: str | None = None
    breach: str | None = None
    judged: str | None = None  # one of JUDGED: the moves judged under every design

    @property
    def needs_moves(self) -> bool:
        """Reached only by the learner's own moves (or their judgement), not by watching."""
        return self.move or self.judged is not None

    def describe(self, reveal: bool = True) -> str:
        """The goal in words. Before a prediction is committed (`reveal` False) it says what
        to do, not what will come of it: "blocked by X" would answer the question."""
        if self.judged:
            return JUDGED[self.judged]
        if not reveal:
            if self.move:
                return "make a move yourself (:) — what it must get shows once you predict"
            if self.kind:
                return "step (n) to the event the question is about"
            return f"run attack {self.attack} to its outcome"
        if self.move:
            parts = []
            if self.kind:
                parts.append(f"an event of kind '{self.kind}'")
            if self.status:
                parts.append(f"the status {self.status}")
            if self.breach:
                parts.append(f"the secret {self.breach}")
            if self.result == "blocked":
                parts.append("a refusal" + (f" by {self.by}" if self.by else ""))
            elif self.result:
                parts.append(f"the verdict {self.result}")
            got = " with ".join(parts[:1]) + "".join(f", {p}" for p in parts[1:])
            return "make a move yourself (:)" + (f" that gets {got}" if got else "")
        if self.kind:
            return f"step to an event of kind '{self.kind}' that crosses {self.crossed}"
        if self.result == "blocked":
            by = f" by {self.by}" if self.by else ""
            return f"see attack {self.attack} blocked{by}"
        off = f" with {', '.join(self.off)} switched off" if self.off else ""
        if self.result == "unavailable":
            return f"see attack {self.attack} stop a component serving others{off}"
        return f"see attack {self.attack} breach{off}"


@dataclass(frozen=True)
class Step:
    narration: str
    title: str = ""
    action: Action | None = None
    predict: Predict | None = None
    hints: tuple[str, ...] = ()
    goal: Goal | None = None
    solution: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    summary: str
    steps: tuple[Step, ...]
    prerequisites: tuple[str, ...] = ()
    known_bad: tuple[int, tuple[str, ...]] | None = None  # (step index from 0, moves)
    plugins: tuple[str, ...] = ()  # the plugins the lesson needs, by name
    simplifies: tuple[str, ...] = ()  # rows ("where") of docs/model.md's simplification table
    learn: str = ""  # "you will learn …": one line for the lesson list
    part: str = ""  # the part of the course it belongs to (PARTS), for the course map
    path: Path | None = field(default=None, compare=False)


# The parts of the course, in order: the course map groups lessons under them.
PARTS = (
    "the machine",
    "the properties",
    "the I/O path",
    "attack surface and case studies",
    "beyond",
)


def bundled_dir() -> Path:
    """The lessons shipped with hvlab: lessons/ in a checkout, hvlab/lessons/data when installed."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "lessons", here.parent / "data"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "lessons"


def load_lesson(path: Path, known: dict[str, tuple[str, ...]] | None = None) -> Lesson:
    """Read and check one lesson file. `known` lists valid ids: workloads, attacks, protections,
    presets, kinds, nodes (unchecked when absent)."""
    try:
        text = decode(read_file(path, "lesson file"), path, "lesson file")
        if not text.strip():
            raise LessonError(f"{shown(path)}: the file is empty; start from 'hvlab new lesson ID'")
        doc = parse_toml(text, path, "lesson file")
    except InputFileError as exc:
        raise LessonError(str(exc)) from None
    top = TableReader(path, text, "", doc, 1)
    version = top.get("schema_version", int, required=True)
    if version > SCHEMA_VERSION:
        raise top.fail(
            f"schema_version {version} is newer than this hvlab reads ({SCHEMA_VERSION}); "
            "upgrade hvlab",
            "schema_version",
        )
    if version < 1:
        raise top.fail(f"schema_version must be 1, not {version}", "schema_version")
    top.unknown(
        (
            "schema_version", "id", "title", "summary", "prerequisites", "plugins", "steps",
            "known_bad", "simplifies", "learn", "part",
        )
    )  # fmt: skip
    part = top.get("part", str, default="")
    if part and part not in PARTS:
        raise top.fail(f"part {part!r} is not a part of the course ({', '.join(PARTS)})", "part")
    lesson_id = top.get("id", str, required=True)
    if not ID.fullmatch(lesson_id):
        raise top.fail(
            f"id {lesson_id!r} must be lowercase letters, digits and dashes (at most 100)", "id"
        )
    if lesson_id.startswith("exercise-"):  # the progress file keeps exercises' passes so
        raise top.fail(f"id {lesson_id!r}: ids beginning 'exercise-' are the exercises'", "id")
    plugins = top.strings("plugins")
    for name in plugins:  # before the steps: their attack ids may come from these plugins
        if known and "plugins" in known and name not in known["plugins"]:
            raise top.fail(
                f"needs the plugin '{name}', which is not loaded (loaded: "
                f"{', '.join(known['plugins'])}); install it, or name its file with --plugin",
                f'"{name}"',
            )
    steps_raw = top.get("steps", list, required=True)
    if not steps_raw:
        raise top.fail("a lesson needs at least one [[steps]]", "steps")
    step_lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[steps]]"]
    steps = []
    for n, table in enumerate(steps_raw):
        anchor = step_lines[n] if n < len(step_lines) else 1
        if not isinstance(table, dict):
            raise top.fail(f"steps[{n + 1}] must be a table ([[steps]])", "steps")
        steps.append(_step(TableReader(path, text, f"step {n + 1}: ", table, anchor), known))
    known_bad = None
    if "known_bad" in doc:
        bad = TableReader(
            path, text, "known_bad: ", top.get("known_bad", dict), top.line_of("[known_bad]")
        )
        bad.unknown(("step", "moves"))
        index = bad.get("step", int, required=True)
        if not 1 <= index <= len(steps) or steps[index - 1].goal is None:
            raise bad.fail(f"step {index} is not a step with a goal", "step")
        known_bad = (index - 1, _moves(bad, "moves", known))
    return Lesson(
        id=lesson_id,
        title=top.get("title", str, required=True),
        summary=top.get("summary", str, default=""),
        steps=tuple(steps),
        prerequisites=top.strings("prerequisites"),
        known_bad=known_bad,
        plugins=plugins,
        simplifies=top.strings("simplifies"),
        learn=top.get("learn", str, default=""),
        part=part,
        path=path,
    )


def _check_id(r: TableReader, what: str, value: str, known: dict | None) -> str:
    if known and what in known and value not in known[what]:
        raise r.fail(
            f"unknown {what[:-1]} '{value}' (valid: {', '.join(known[what])})", f'"{value}"'
        )
    return value


def _step(r: TableReader, known: dict | None) -> Step:
    r.unknown(("title", "narration", "action", "predict", "hints", "goal", "solution"))
    action = None
    if "action" in r.table:
        a = TableReader(r.path, r.text, r.where + "action: ", r.get("action", dict), r.anchor)
        a.unknown(
            ("run", "attack", "design", "off", "seed", "switch_off", "switch_on", "jump", "name")
        )
        kinds = [k for k in ("run", "switch_off", "switch_on", "jump") if k in a.table]
        if len(kinds) != 1:
            raise a.fail("needs exactly one of run, switch_off, switch_on, jump", "action")
        run = a.get("run", str)
        action = Action(
            run=_check_id(a, "workloads", run, known) if run else None,
            attack=_opt(a, "attack", "attacks", known),
            design=_check_id(a, "presets", a.get("design", str, default="hyperv"), known),
            off=tuple(_check_id(a, "protections", p, known) for p in a.strings("off")),
            seed=a.get("seed", int, default=0),
            switch_off=_opt(a, "switch_off", "protections", known),
            switch_on=_opt(a, "switch_on", "protections", known),
            jump=_opt(a, "jump", "kinds", known),
            name=a.get("name", str),
        )
    predict = read_predict(r, known, _check_id) if "predict" in r.table else None
    hints = r.strings("hints")
    if len(hints) > 4:
        raise r.fail("at most four hints: nudge, pointer, walkthrough, reveal", "hints")
    goal = None
    if "goal" in r.table:
        g = TableReader(r.path, r.text, r.where + "goal: ", r.get("goal", dict), r.anchor)
        g.unknown(
            ("attack", "result", "by", "off", "kind", "crossed", "move", "status", "breach",
             "judged")
        )  # fmt: skip
        if "judged" in g.table:
            judged = g.get("judged", str, required=True)
            if judged not in JUDGED:
                raise g.fail(f"judged must be {', '.join(JUDGED)}, not '{judged}'", "judged")
            if len(g.table) > 1:
                raise g.fail("a judged goal takes judged alone", "judged")
            goal = Goal(judged=judged)
        elif g.get("move", bool, default=False):
            goal = _move_goal(g, known)
        elif "status" in g.table or "breach" in g.table:
            raise g.fail("status and breach belong to a goal with move = true", "goal")
        elif "kind" in g.table or "crossed" in g.table:
            goal = Goal(
                kind=_check_id(g, "kinds", g.get("kind", str, required=True), known),
                crossed=_check_id(g, "nodes", g.get("crossed", str, required=True), known),
            )
        else:
            result = g.get("result", str, required=True)
            if result not in RESULTS:
                raise g.fail(f"result must be {', '.join(RESULTS)}, not '{result}'", "result")
            goal = Goal(
                attack=_check_id(g, "attacks", g.get("attack", str, required=True), known),
                result=result,
                by=_opt(g, "by", "protections", known),
                off=tuple(_check_id(g, "protections", p, known) for p in g.strings("off")),
            )
    solution = _moves(r, "solution", known)
    if goal is not None and not solution:
        raise r.fail("a step with a goal needs a solution (the moves that reach it)", "goal")
    return Step(
        narration=r.get("narration", str, required=True),
        title=r.get("title", str, default=""),
        action=action,
        predict=predict,
        hints=hints,
        goal=goal,
        solution=solution,
    )


def _move_goal(g: TableReader, known: dict | None) -> Goal:
    from hvlab.model.hypervisor.constants import HvStatus

    if "attack" in g.table or "crossed" in g.table or "off" in g.table:
        raise g.fail("a move goal takes kind, status, breach, result and by", "move")
    status = g.get("status", str)
    if status is not None and status not in {s.label for s in HvStatus}:
        raise g.fail(f"unknown status '{status}' (e.g. HV_STATUS_ACCESS_DENIED)", f'"{status}"')
    result = g.get("result", str)
    if result is not None and result not in MOVE_RESULTS:
        raise g.fail(f"result must be {', '.join(MOVE_RESULTS)}, not '{result}'", "result")
    return Goal(
        move=True,
        kind=_opt(g, "kind", "kinds", known),
        status=status,
        breach=g.get("breach", str),
        result=result,
        by=_opt(g, "by", "protections", known),
    )


def _opt(r: TableReader, key: str, what: str, known: dict | None) -> str | None:
    value = r.get(key, str)
    return _check_id(r, what, value, known) if value is not None else None


def _moves(r: TableReader, key: str, known: dict | None) -> tuple[str, ...]:
    moves = r.strings(key)
    for move in moves:
        verb, _, arg = move.partition(" ")
        if verb not in MOVES:
            raise r.fail(f"unknown move '{move}' (valid: {', '.join(MOVES)})", move)
        if verb in ("switch-off", "switch-on"):
            _check_id(r, "protections", arg, known)
        elif verb == "design":
            _check_id(r, "presets", arg, known)
        elif verb == "goto" and not (WHOLE.fullmatch(arg) and -1 <= int(arg) <= MAX_MOVE):
            raise r.fail(f"move '{move}' needs a step number from -1 to {MAX_MOVE}", move)
        elif (
            verb in ("step", "back")
            and arg
            and not (WHOLE.fullmatch(arg) and 1 <= int(arg) <= MAX_MOVE)
        ):
            raise r.fail(f"move '{move}' needs a count from 1 to {MAX_MOVE}", move)
        elif verb in ("end", "next-decision") and arg:
            raise r.fail(f"move '{move}' takes no argument", move)
        elif verb == "do":
            from hvlab.model.scenarios.moves import MoveError, parse

            try:
                parse(arg)
            except MoveError as exc:
                raise r.fail(f"move '{move}': {exc}", move) from None
    return moves
