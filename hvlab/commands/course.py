"""`hvlab lessons`, `lesson`, `check`, `progress`: the course, its checks, the progress."""

from __future__ import annotations

import argparse
import sys

from hvlab.commands.common import (
    UsageError,
    check_lesson_paths,
    lessons_and_progress,
    open_progress,
    print_json,
    report_plugin_errors,
    write_output,
)
from hvlab.commands.lab import open_tui


def cmd_lessons(args: argparse.Namespace) -> int:
    lessons, errors, cat, progress = lessons_and_progress(args.lessons, args.plugin)
    errors = errors + report_plugin_errors(cat)
    for i, lesson in enumerate(lessons, 1):
        status = progress.status(lesson.id)
        after = f"  (after {', '.join(lesson.prerequisites)})" if lesson.prerequisites else ""
        steps = f"{len(lesson.steps)} step{'s' if len(lesson.steps) != 1 else ''}"
        print(f"{i:>2}. {lesson.id:<26} {status:<12} {steps:<8} {lesson.title}{after}")
        if lesson.learn:
            print(f"    {'':<26} {'':<12} {'':<8} you will learn: {lesson.learn}")
    return 2 if errors else 0


def cmd_lesson(args: argparse.Namespace) -> int:
    lessons, _errors, cat, progress = lessons_and_progress(args.lessons, args.plugin)
    report_plugin_errors(cat)
    chosen = [lesson for lesson in lessons if lesson.id == args.id]
    if not chosen:
        raise UsageError(f"unknown lesson '{args.id}' (valid: {', '.join(x.id for x in lessons)})")
    return open_tui(cat, None, narrate=False, lessons=lessons, progress=progress, lesson=chosen[0])


def cmd_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hvlab.lessons import bundled_dir
    from hvlab.lessons.check import junit, run_check
    from hvlab.plugins import load_catalogue

    paths = [Path(p) for p in args.paths] or [bundled_dir()]
    try:
        check_lesson_paths(paths, "check:")
    except UsageError as exc:
        if args.json:  # a JSON reader gets its object too; the one line still goes to stderr
            doc = {"passed": False, "results": [], "errors": [str(exc)]}
            print_json(doc)
        raise
    cat = load_catalogue(args.plugin, echo=False)
    results, errors = run_check(paths, cat, contracts=not args.no_contracts)
    errors = cat.errors + errors  # a plugin file that does not load is an unreadable input
    if args.junit:
        write_output(args.junit, junit(results, errors))
    if args.json:
        doc = {
            "passed": all(r.passed for r in results) and not errors,
            "results": [r.to_json() for r in results],
            "errors": errors,
        }
        print_json(doc)
    else:
        for line in errors:
            print(f"hvlab: {line}", file=sys.stderr)
        for r in results:
            mark = "ok  " if r.passed else "FAIL"
            print(f"{mark} {r.group[:-1]:<8} {r.name:<26} {r.message}".rstrip())
        failed = sum(not r.passed for r in results)
        print(f"{len(results) - failed} passed, {failed} failed, {len(errors)} unreadable")
    if errors:
        return 2
    return 0 if all(r.passed for r in results) else 1


def cmd_progress(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hvlab.lessons.progress import ProgressError

    progress = open_progress()
    if args.action == "show":
        print(f"{progress.path}{' (read-only)' if progress.read_only else ''}")
        for lesson_id, entry in sorted(progress.lessons.items()):
            print(f"  {lesson_id:<26} {entry.status:<12} step {entry.step + 1}")
        return 0
    if not args.file:
        raise UsageError(f"'hvlab progress {args.action}' needs a FILE")
    try:
        if args.action == "export":
            progress.export(Path(args.file))
            print(f"wrote {args.file}")
        else:
            count = progress.import_(Path(args.file))
            print(f"imported {count} lessons' progress from {args.file} into {progress.path}")
    except ProgressError as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{args.file}: {exc.strerror}") from None
    return 0
