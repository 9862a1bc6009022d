"""`hvlab exercises` and `hvlab exercise start|check|hint|lab`: write the check, the model
judges it."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from hvlab.commands.common import UsageError, open_progress, print_json

PASSED = "done"  # the progress status an exercise's entry gets when it passes
WATCH_POLL = 0.3  # seconds between looks at the watched file


def _exercises():
    from hvlab.exercises import load_exercises

    return load_exercises()


def _chosen(args: argparse.Namespace):
    exercises = _exercises()
    if args.id not in exercises:
        raise UsageError(f"unknown exercise '{args.id}' (valid: {', '.join(exercises)})")
    return exercises[args.id]


def cmd_exercises(_args: argparse.Namespace) -> int:
    progress = open_progress()
    for i, ex in enumerate(_exercises().values(), 1):
        status = "passed" if progress.status(ex.progress_id) == PASSED else "-"
        print(f"{i:>2}. {ex.id:<22} {status:<7} {ex.title}")
        print(f"    {'':<22} {'':<7} {ex.protection}; must stop: {', '.join(ex.attacks)}")
    print("hvlab exercise start ID writes a file to begin from; hvlab exercise check ID judges it")
    return 0


def cmd_exercise(args: argparse.Namespace) -> int:
    ex = _chosen(args)
    if args.action == "start":
        return _start(ex, Path(args.dir), args.force)
    if args.action == "hint":
        return _hint(ex)
    path = Path(args.file) if args.file else Path(args.dir) / f"{ex.id}.py"
    if args.action == "lab":
        from hvlab.commands.lab import open_exercise

        return open_exercise(ex, path)
    if args.watch:
        return _watch(ex, path, args.json)
    return _check(ex, path, args.json)


def _start(ex, folder: Path, force: bool) -> int:
    from hvlab.userfiles import reason, shown, write_atomically

    target = folder / f"{ex.id}.py"
    if target.exists() and not force:
        raise UsageError(
            f"{shown(target)} exists: check it with 'hvlab exercise check {ex.id} {target}', "
            "or --force to start over"
        )
    try:
        write_atomically(target, ex.starter.read_bytes())
    except OSError as exc:
        raise UsageError(f"{shown(target)}: cannot write it: {reason(exc)}") from None
    print(f"wrote {target}: {ex.title}")
    print(f"  {ex.summary}")
    print(f"  edit it, then: hvlab exercise check {ex.id} {target}   (--watch to re-check)")
    return 0


def _hint(ex) -> int:
    """The next hint, in escalating order; the count is kept in the progress file."""
    progress = open_progress()
    entry = progress.get(ex.progress_id)
    if entry.status == "new":
        entry.status = "in-progress"
    shown = min(entry.hints.get(0, 0) + 1, len(ex.hints))
    entry.hints[0] = shown
    _save(progress)
    for n in range(shown):
        print(f"hint {n + 1} of {len(ex.hints)}: {ex.hints[n]}")
    if shown == len(ex.hints):
        print("(that was the last hint)")
    return 0


def _save(progress) -> None:
    from hvlab.lessons.progress import ProgressError

    try:
        progress.save()
    except ProgressError as exc:
        print(f"hvlab: {exc}", file=sys.stderr)


def _check(ex, path: Path, as_json: bool) -> int:
    """Exit 0 pass, 1 fail (an error of the learner's code included), 2 unreadable file."""
    from hvlab.exercises import UnreadableExercise
    from hvlab.exercises.check import check
    from hvlab.plugins import load_catalogue

    try:
        report = check(ex, path, load_catalogue([], echo=False))
    except UnreadableExercise as exc:
        if as_json:  # a JSON reader gets its object too; the one line still goes to stderr
            doc = {"exercise": ex.id, "file": str(path), "passed": False, "unreadable": str(exc)}
            print_json(doc)
        raise UsageError(str(exc)) from None
    if as_json:
        doc = {
            "exercise": ex.id,
            "file": str(path),
            "passed": report.ok,
            "error": report.error.text if report.error else None,
            "ok": report.passed,
            "findings": [{"part": f.part, "text": f.text} for f in report.findings],
        }
        print_json(doc)
    else:
        for line in report.lines():
            print(line)
    if report.ok:
        progress = open_progress()
        progress.get(ex.progress_id).status = PASSED
        _save(progress)
    return 0 if report.ok else 1


def _watch(ex, path: Path, as_json: bool) -> int:
    """Check, then check again each time the file changes, until Ctrl-C (rustlings' watch)."""

    def stamp():
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    # Ctrl-C stops the watcher even where SIGINT came in ignored (a job started in the
    # background, a test runner's worker); SIGTERM stops it the same way.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    seen = object()
    code = 2
    try:
        while True:
            now = stamp()
            if now != seen:
                time.sleep(WATCH_POLL)  # an editor may save in two writes: check the second
                if stamp() != now:
                    continue
                seen = now
                try:
                    code = _check(ex, path, as_json)
                except UsageError as exc:
                    print(f"hvlab: {exc}", file=sys.stderr)
                    code = 2
                print(f"-- watching {path} (Ctrl-C to stop)", flush=True)
            time.sleep(WATCH_POLL)
    except KeyboardInterrupt:
        return code
