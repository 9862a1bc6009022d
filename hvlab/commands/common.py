"""What the commands share: the one-line error they raise for bad input, loading plugins and
saying what did not load, the learner's progress and lessons, files written where the user said."""

from __future__ import annotations

import argparse
import os
import sys

# the cores this process may run on: --jobs is capped at them
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def print_json(doc) -> None:
    """One JSON object on stdout, compact, on a line of its own (what every --json prints)."""
    import json

    json.dump(doc, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


def catalogue_from(args: argparse.Namespace):
    """Load plugins; each load error is one line on stderr, and the lab goes on without it."""
    from hvlab.plugins import load_catalogue

    cat = load_catalogue(getattr(args, "plugin", []))
    report_plugin_errors(cat)
    return cat


def design_from(args: argparse.Namespace, extra: tuple[str, ...] = ()):
    from hvlab.model.core.protections import Design, UnknownDesignError, UnknownProtectionError

    try:
        return Design.build(args.design, args.off, extra)
    except (UnknownProtectionError, UnknownDesignError) as exc:
        raise UsageError(str(exc)) from None


def write_output(path: str, data: bytes) -> None:
    """Write a file the user named (a report, an export); one line when it cannot be."""
    from hvlab.userfiles import reason, shown, write_atomically

    try:
        write_atomically(path, data)
    except (OSError, ValueError) as exc:
        why = reason(exc) if isinstance(exc, OSError) else "not a valid path"
        raise UsageError(f"cannot write {shown(path)}: {why}") from None


def lessons_and_progress(extra=(), plugins=(), *, report: bool = True):
    """The shipped lessons and those in `extra` (files or folders), the catalogue with
    `plugins` (files) loaded too, the learner's progress; each bad lesson file is one line on
    stderr (plugin errors are in the catalogue's `errors`, for the caller to report)."""
    from pathlib import Path

    from hvlab.lessons import bundled_dir, load_lessons
    from hvlab.lessons.runner import known_ids
    from hvlab.plugins import load_catalogue

    check_lesson_paths(extra)
    cat = load_catalogue(plugins, echo=False)
    paths = [bundled_dir(), *(Path(p) for p in extra)]
    lessons, errors = load_lessons(paths, known_ids(cat))
    if report:
        for line in errors:
            print(f"hvlab: {line}", file=sys.stderr)
    return lessons, errors, cat, open_progress(report=report)


SERVED, PROGRESS_DIR = "HVLAB_SERVED", "HVLAB_PROGRESS_DIR"  # set by `hvlab serve` for its apps


def open_progress(*, report: bool = True):
    """The learner's progress; what opening it had to mend (a file set aside, a backup
    restored, a newer file opened read-only) is one line each on stderr. A browser session
    of `hvlab serve` never shares the teacher's file: it keeps progress in memory, or, with
    --progress-dir, in a file of the student's own (the app asks for a name)."""
    from hvlab.lessons.progress import SERVED_IN_MEMORY, Progress

    if os.environ.get(SERVED) == "1":
        return Progress.in_memory("" if os.environ.get(PROGRESS_DIR) else SERVED_IN_MEMORY)
    progress = Progress.open()
    for notice in progress.notices if report else ():  # else the caller shows `notices`
        print(f"hvlab: {notice}", file=sys.stderr)
    return progress


def check_lesson_paths(paths, flag: str = "--lessons") -> None:
    from hvlab.userfiles import missing

    for p in paths:
        problem = missing(p, "file or folder")
        if problem:
            raise UsageError(f"{flag} {problem}")


def report_plugin_errors(cat) -> list[str]:
    """Each plugin that did not load, one line on stderr; returns those lines."""
    for error in cat.errors:
        print(f"hvlab: {error}", file=sys.stderr)
    return list(cat.errors)


def moves_from(args) -> tuple[tuple[int, str], ...] | None:
    """The --at/--do moves, checked (a bad one: UsageError); None when a --do asked for help,
    which is then printed."""
    from hvlab.model.scenarios.moves import AT_END, MoveError, help_text, help_topic, parse

    moves = []
    for step, line in args.moves:
        try:
            topic = help_topic(line)
            if topic is not None:
                print(help_text(topic))
                return None
            parse(line)
        except MoveError as exc:
            raise UsageError(f"--do '{line}': {exc}") from None
        moves.append((AT_END if step is None else step, line.strip()))
    return tuple(moves)
