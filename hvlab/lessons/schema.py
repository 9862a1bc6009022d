"""The lesson file format (schema_version 1) and its reader.

schema_version = 1
id = "separate-address-spaces"        # lowercase letters, digits and dashes
title = "..."
summary = "..."
prerequisites = ["tour"]               # ids of lessons to do first (optional)

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
solution = ["end"]                     # the moves that reach the goal (required with a goal)

[known_bad]                            # moves that must NOT reach that step's goal
step = 2
moves = ["end"]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvlab.userfiles import (
    InputFileError,
    decode,
    has_unsafe,
    missing,
    parse_toml,
    read_file,
    reason,
    shown,
)

SCHEMA_VERSION = 1
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")  # whole ids only: fullmatch
MOVES = ("end", "step", "back", "next-decision", "goto", "switch-off", "switch-on", "design")
RESULTS = ("blocked", "breached")
WHOLE = re.compile(r"-?[0-9]{1,9}")  # ASCII digits only: '²' is a digit to str.isdigit
MAX_MOVE = 10_000_000  # more steps than any run has
MULTILINE = ("narration", "summary", "hints", "prompt")  # Markdown or prose: may break lines


class LessonError(ValueError):
    """One line: file, line where known, and the problem."""


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
class Predict:
    prompt: str
    choices: tuple[str, ...]
    answer: int


@dataclass(frozen=True)
class Goal:
    attack: str | None = None
    result: str | None = None
    by: str | None = None
    off: tuple[str, ...] = ()
    kind: str | None = None
    crossed: str | None = None

    def describe(self) -> str:
        if self.kind:
            return f"step to an event of kind '{self.kind}' that crosses {self.crossed}"
        if self.result == "blocked":
            by = f" by {self.by}" if self.by else ""
            return f"see attack {self.attack} blocked{by}"
        off = f" with {', '.join(self.off)} switched off" if self.off else ""
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
    path: Path | None = field(default=None, compare=False)


def bundled_dir() -> Path:
    """The lessons shipped with hvlab: lessons/ in a checkout, hvlab/lessons/data when installed."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "lessons", here.parent / "data"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "lessons"


class _Reader:
    """Typed access to one table, with errors that name the file and the line."""

    def __init__(self, path: Path, text: str, where: str, table: dict, anchor: int) -> None:
        self.path, self.text, self.where, self.table, self.anchor = path, text, where, table, anchor

    def fail(self, problem: str, near: str | None = None) -> LessonError:
        line = self.line_of(near) if near else self.anchor
        at = f"{self.path}:{line}" if line else str(self.path)
        return LessonError(f"{at}: {self.where}{problem}")

    def line_of(self, needle: str) -> int:
        lines = self.text.splitlines()
        for i in range(max(0, self.anchor - 1), len(lines)):
            if needle in lines[i]:
                return i + 1
        for i, line in enumerate(lines):
            if needle in line:
                return i + 1
        return self.anchor

    def get(self, key: str, kind: type | tuple, required: bool = False, default: Any = None):
        if key not in self.table:
            if required:
                raise self.fail(f"missing field '{key}'")
            return default
        value = self.table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.fail(
                f"'{key}' must be {_article(names)}, not {type(value).__name__}", f"{key}"
            )
        if isinstance(value, str):
            self.clean(key, value)
        return value

    def clean(self, key: str, value: str) -> None:
        """Text shown on the learner's terminal holds no control or bidi characters (only the
        line breaks and tabs of Markdown, and those not in one-line fields)."""
        one_line = key not in MULTILINE
        bad = [c for c in value if has_unsafe(c) and (one_line or c not in "\n\t")]
        if bad:
            raise self.fail(
                f"'{key}' holds the control character U+{ord(bad[0]):04X}; remove it", key
            )

    def strings(self, key: str, required: bool = False) -> tuple[str, ...]:
        values = self.get(key, list, required, [])
        for v in values:
            if not isinstance(v, str):
                raise self.fail(f"'{key}' must be a list of strings", key)
            self.clean(key, v)
        return tuple(values)

    def unknown(self, allowed: Iterable[str]) -> None:
        for key in self.table:
            if key not in allowed:
                raise self.fail(f"unknown field '{key}' (valid: {', '.join(allowed)})", key)


def _article(name: str) -> str:
    return {"str": "a string", "int": "a whole number", "list": "a list", "dict": "a table"}.get(
        name, name
    )


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
    top = _Reader(path, text, "", doc, 1)
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
            "known_bad",
        )
    )  # fmt: skip
    lesson_id = top.get("id", str, required=True)
    if not ID.fullmatch(lesson_id):
        raise top.fail(
            f"id {lesson_id!r} must be lowercase letters, digits and dashes (at most 100)", "id"
        )
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
        steps.append(_step(_Reader(path, text, f"step {n + 1}: ", table, anchor), known))
    known_bad = None
    if "known_bad" in doc:
        bad = _Reader(
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
        path=path,
    )


def _check_id(r: _Reader, what: str, value: str, known: dict | None) -> str:
    if known and what in known and value not in known[what]:
        raise r.fail(
            f"unknown {what[:-1]} '{value}' (valid: {', '.join(known[what])})", f'"{value}"'
        )
    return value


def _step(r: _Reader, known: dict | None) -> Step:
    r.unknown(("title", "narration", "action", "predict", "hints", "goal", "solution"))
    action = None
    if "action" in r.table:
        a = _Reader(r.path, r.text, r.where + "action: ", r.get("action", dict), r.anchor)
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
    predict = None
    if "predict" in r.table:
        p = _Reader(r.path, r.text, r.where + "predict: ", r.get("predict", dict), r.anchor)
        p.unknown(("prompt", "choices", "answer"))
        choices = p.strings("choices", required=True)
        if len(choices) > 9:
            raise p.fail(
                "at most nine choices: the learner picks one with the keys 1 to 9", "choices"
            )
        if len(choices) < 2:
            raise p.fail("needs at least two choices", "choices")
        answer = p.get("answer", int, required=True)
        if not 0 <= answer < len(choices):
            raise p.fail(
                f"answer {answer} is not the index of a choice (0 to {len(choices) - 1})", "answer"
            )
        predict = Predict(p.get("prompt", str, required=True), choices, answer)
    hints = r.strings("hints")
    if len(hints) > 4:
        raise r.fail("at most four hints: nudge, pointer, walkthrough, reveal", "hints")
    goal = None
    if "goal" in r.table:
        g = _Reader(r.path, r.text, r.where + "goal: ", r.get("goal", dict), r.anchor)
        g.unknown(("attack", "result", "by", "off", "kind", "crossed"))
        if "kind" in g.table or "crossed" in g.table:
            goal = Goal(
                kind=_check_id(g, "kinds", g.get("kind", str, required=True), known),
                crossed=_check_id(g, "nodes", g.get("crossed", str, required=True), known),
            )
        else:
            result = g.get("result", str, required=True)
            if result not in RESULTS:
                raise g.fail(f"result must be blocked or breached, not '{result}'", "result")
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


def _opt(r: _Reader, key: str, what: str, known: dict | None) -> str | None:
    value = r.get(key, str)
    return _check_id(r, what, value, known) if value is not None else None


def _moves(r: _Reader, key: str, known: dict | None) -> tuple[str, ...]:
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
    return moves


def load_lessons(
    paths: Iterable[Path],
    known: dict[str, tuple[str, ...]] | None = None,
    elsewhere: Iterable[str] = (),
) -> tuple[list[Lesson], list[str]]:
    """Every lesson file under `paths` (files or folders): the good lessons, and one error line
    per bad file. Duplicate ids, unknown and cyclic prerequisites are errors too; `elsewhere`
    names lessons outside `paths` that prerequisites may name (the shipped ones)."""
    files: list[Path] = []
    errors: list[str] = []
    for p in paths:
        problem = missing(p, "lesson file or folder")
        if problem:
            errors.append(problem)
        elif p.is_dir():
            try:
                found = sorted(f for f in p.iterdir() if f.name.endswith(".toml"))
            except OSError as exc:
                errors.append(f"{shown(p)}: cannot list the folder: {reason(exc)}")
                continue
            if not found:
                errors.append(f"{shown(p)}: no lessons found (no *.toml files in this folder)")
            files += found
        else:
            files.append(p)
    lessons: list[Lesson] = []
    seen: dict[str, Path] = {}
    for f in files:
        try:
            lesson = load_lesson(f, known)
        except LessonError as exc:
            errors.append(str(exc))
            continue
        if lesson.id in seen:
            errors.append(
                f"{shown(f)}: duplicate lesson id '{lesson.id}' (also in {shown(seen[lesson.id])})"
            )
            continue
        seen[lesson.id] = f
        lessons.append(lesson)
    ids = {lesson.id for lesson in lessons} | set(elsewhere)
    good = []
    for lesson in lessons:
        unknown = [p for p in lesson.prerequisites if p not in ids]
        if unknown:
            errors.append(f"{shown(lesson.path)}: unknown prerequisite '{unknown[0]}'")
        elif _in_cycle(lesson.id, {x.id: x.prerequisites for x in lessons}):
            errors.append(f"{lesson.path}: prerequisites of '{lesson.id}' form a cycle")
        else:
            good.append(lesson)
    return _in_order(good), errors


def _in_cycle(start: str, prereqs: dict[str, tuple[str, ...]]) -> bool:
    stack, seen = list(prereqs.get(start, ())), set()
    while stack:
        here = stack.pop()
        if here == start:
            return True
        if here not in seen:
            seen.add(here)
            stack += prereqs.get(here, ())
    return False


def _in_order(lessons: list[Lesson]) -> list[Lesson]:
    """File order, except that a lesson comes after its prerequisites."""
    placed: list[Lesson] = []
    done: set[str] = set()
    pending = list(lessons)
    local = {lesson.id for lesson in lessons}
    while pending:
        for lesson in pending:
            if all(p in done or p not in local for p in lesson.prerequisites):
                placed.append(lesson)
                done.add(lesson.id)
                pending.remove(lesson)
                break
        else:  # only reachable with a dangling prerequisite, which load_lessons drops
            placed += pending
            break
    return placed
