"""A course: every lesson under some files and folders, checked, with duplicate ids, unknown
and cyclic prerequisites named, and put in an order where each lesson follows those it needs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hvlab.lessons.schema import Lesson, LessonError, load_lesson
from hvlab.userfiles import missing, reason, shown


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
