"""Opening the lab: the TUI (`hvlab`, with run options or on the lessons) and `hvlab serve`."""

from __future__ import annotations

import argparse
import os
import sys

from hvlab.commands.common import (
    PROGRESS_DIR,
    SERVED,
    UsageError,
    check_lesson_paths,
    lessons_and_progress,
    report_plugin_errors,
)
from hvlab.output import raw_streams


def names_run(args: argparse.Namespace) -> bool:
    """Whether the options name a run (else the lab opens on the lessons)."""
    return bool(args.workload or args.lab_attack or args.lab_design or args.lab_off)


def lab_session(args: argparse.Namespace, *, report: bool = True):
    """The catalogue and, when the options name a run, its session (None: the start screen).
    `report`: each plugin that did not load is a line on stderr (else only in `cat.errors`)."""
    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session, SessionError

    cat = load_catalogue(args.lab_plugin, echo=False)
    if report:
        report_plugin_errors(cat)
    if not names_run(args):
        return cat, None
    workload = args.workload
    if workload is None and args.lab_attack in cat.attacks:
        workload = cat.attacks[args.lab_attack].workload
    spec = RunSpec(
        workload=workload or "boot",
        attack=args.lab_attack,
        preset=args.lab_design or "hyperv",
        off=tuple(args.lab_off),
        seed=args.lab_seed,
    )
    try:
        return cat, Session(spec, cat)
    except SessionError as exc:
        raise UsageError(str(exc)) from None


def loader(args: argparse.Namespace):
    """What the TUI computes in a worker after its first frame: the options' run, or the
    lessons, the progress and the first unfinished lesson's run. Every line loading has to
    say goes into `messages` (the app shows them; they are printed once the terminal is back)."""

    def load():
        from hvlab.tui.app import Loaded

        if names_run(args):
            cat, session = lab_session(args, report=False)
            return Loaded(cat, session, messages=list(cat.errors))
        from hvlab.lessons.runner import LessonRun

        lessons, errors, cat, progress = lessons_and_progress(
            args.lab_lessons, args.lab_plugin, report=False
        )
        messages = [*cat.errors, *errors, *progress.notices]
        progress.notices = []  # said in `messages`
        first = progress.first_unfinished(lessons)
        run = None
        if first is not None and not served_progress_dir():  # served: the name comes first
            entry = progress.get(first.id)
            run = LessonRun(first, cat, min(entry.step, len(first.steps) - 1))
        return Loaded(cat, None, lessons, progress, run, messages)

    return load


def served_progress_dir():
    from pathlib import Path

    served_dir = os.environ.get(PROGRESS_DIR) if os.environ.get(SERVED) == "1" else None
    return Path(served_dir) if served_dir else None


def terminal() -> bool:
    # TEXTUAL_DRIVER is set when something drives the app without a terminal (`hvlab serve`)
    return bool(os.environ.get("TEXTUAL_DRIVER") or (sys.stdout.isatty() and sys.stdin.isatty()))


def cmd_tui(args: argparse.Namespace) -> int:
    if terminal():  # the lab's frame at once; the options are checked as the run is computed
        check_lesson_paths(args.lab_lessons)
        return open_tui(
            None,
            None,
            narrate=args.narrate,
            present=args.present,
            loader=loader(args),
            loading_lesson=not names_run(args),
        )
    cat, session = lab_session(args)
    if args.narrate:
        # a pipe, a caption file, a screen reader's log: narrate the whole run
        from hvlab.narration import narrate_all
        from hvlab.render import outcome_lines
        from hvlab.session import RunSpec, Session

        session = session or Session(RunSpec(), cat)
        lab = session.lab
        print(f"hvlab narration. Run: {session.spec.describe()}. {len(lab.events)} steps.")
        for line in narrate_all(lab.events, len(lab.events)):
            print(line)
        # by what, at which step: the oracle's own lines, as sentences
        said = [line.strip() for line in outcome_lines(lab.outcome)]
        print(f"Outcome: {said[0].removeprefix('outcome: ')}." if said else "Outcome: none.")
        for line in said[1:]:
            print(f"{line}.")
        return 0
    return open_tui(cat, session, narrate=args.narrate, present=args.present)  # no terminal


def open_tui(
    cat,
    session,
    *,
    narrate: bool,
    lessons=(),
    progress=None,
    lesson=None,
    at_step=None,
    present: float | None = None,
    loader=None,
    loading_lesson: bool = False,
    exercise=None,
) -> int:
    if not terminal():
        raise UsageError(
            "the lab needs a terminal; without one use 'hvlab run boot' for a trace, "
            "'hvlab --narrate' for a narrated one, or 'hvlab serve' for a browser"
        )
    from hvlab.tui.app import HvlabApp

    served_dir = served_progress_dir()
    app = HvlabApp(
        cat,
        session,
        narrate=narrate,
        lessons=list(lessons),
        progress=progress,
        lesson=lesson,
        at_step=at_step,
        present=present,
        progress_dir=served_dir if served_dir and (lessons or loading_lesson) else None,
        loader=loader,
        loading_lesson=loading_lesson,
        exercise=exercise,
    )
    with raw_streams():
        app.run()
    for message in app.load_messages:  # shown in the app; here too, now the terminal is back
        print(f"hvlab: {message}", file=sys.stderr)
    if app.load_error is not None:
        raise app.load_error  # a bad option: one line and exit 2, as without a terminal
    return app.return_code or 0  # 1 when the app ended on an error it could not handle


def open_exercise(exercise, path) -> int:
    """`hvlab exercise lab ID FILE`: the lab on the exercise's attack with the learner's code
    in the model, its verdict in the status bar, `r` to check again."""
    if not terminal():
        raise UsageError(
            "the lab needs a terminal; without one use 'hvlab exercise check' for the verdict"
        )
    from hvlab.exercises.lab import ExerciseLab
    from hvlab.plugins import load_catalogue

    cat = load_catalogue([], echo=False)
    print(f"hvlab: checking {path} …", file=sys.stderr, flush=True)
    lab = ExerciseLab(exercise, path, cat)
    session = lab.build()
    return open_tui(session.catalogue, session, narrate=False, exercise=lab)


def cmd_serve(args: argparse.Namespace) -> int:
    import shlex

    from textual_serve.server import Server

    lab_session(args)  # bad options fail here, in the terminal, not in the browser
    check_lesson_paths(args.lab_lessons)
    argv = [sys.executable, "-m", "hvlab"]
    for flag, value in (
        ("--workload", args.workload),
        ("--attack", args.lab_attack),
        ("--design", args.lab_design),
    ):
        if value:
            argv += [flag, value]
    if args.lab_off:
        argv += ["--off", *args.lab_off]
    if args.lab_seed:
        argv += ["--seed", str(args.lab_seed)]
    for path in args.lab_plugin:
        argv += ["--plugin", path]
    for path in args.lab_lessons:
        argv += ["--lessons", path]
    if args.narrate:
        argv.append("--narrate")
    if args.present is not None:
        argv += ["--present", str(args.present)]
    check_listen(args.host, args.port)
    os.environ[SERVED] = "1"  # the apps it starts inherit these
    if args.progress_dir:
        os.environ[PROGRESS_DIR] = str(usable_folder(args.progress_dir, "--progress-dir"))
    else:
        os.environ.pop(PROGRESS_DIR, None)
    print(f"hvlab: serving on http://{args.host}:{args.port} (ctrl+c stops)", file=sys.stderr)
    server = Server(shlex.join(argv), host=args.host, port=args.port, title="hvlab")
    with raw_streams():
        server.serve()
    return 0


def check_listen(host: str, port: int) -> None:
    """Refuse, before anything is served, an address the server could not listen on."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, socket.gaierror) else "not a host name"
        raise UsageError(f"--host {host!r}: {why}; try --host 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as exc:
            import errno

            hint = (
                "not an address of this machine; try --host 127.0.0.1"
                if exc.errno == errno.EADDRNOTAVAIL
                else "choose another --port"
            )
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; {hint}") from None


def usable_folder(path: str, flag: str):
    """A folder hvlab can write in, created if need be; else one line naming it."""
    from pathlib import Path

    from hvlab.userfiles import reason, shown

    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".hvlab-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"{flag} {shown(path)}: {reason(exc)}") from None
    return folder.resolve()
