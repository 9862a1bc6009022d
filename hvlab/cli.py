"""The `hvlab` command line. Start-up stays light: no Textual, no networkx here."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from hvlab import __version__
from hvlab.output import raw_streams


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def whole(low: int, high: int | None = None):
    """An argparse type: a whole number (decimal or 0x hex) from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            hexadecimal = text.strip().lower().lstrip("-").startswith("0x")
            value = int(text, 0 if hexadecimal else 10) if text.isascii() else None
        except ValueError:
            value = None
        span = f"from {low} to {high}" if high is not None else f"of at least {low}"
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number {span}")
        return value

    return parse


def seconds(low: float, high: float):
    """An argparse type: a number of seconds from `low` to `high` (no nan, no infinity)."""

    def parse(text: str) -> float:
        try:
            value = float(text) if text.isascii() else math.nan
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # false for nan
            raise argparse.ArgumentTypeError(
                f"'{text}' is not a number of seconds from {low:g} to {high:g}"
            )
        return value

    return parse


SEED = whole(0, 2**63 - 1)
STEP = whole(-1, 10**9)
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> Parser:
    from hvlab.model.core.protections import PRESETS

    parser = Parser(
        prog="hvlab",
        description="A terminal lab that steps through a Hyper-V style hypervisor, event by event.",
    )
    parser.add_argument("--version", action="version", version=f"hvlab {__version__}")
    add_lab_options(parser)
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    with_plugins = Parser(add_help=False)
    add_paths(with_plugins, "--plugin", PLUGIN_HELP)
    with_lessons = Parser(add_help=False)
    add_paths(with_lessons, "--lessons", LESSONS_HELP)

    run = sub.add_parser(
        "run",
        parents=[with_plugins],
        help="run a workload headless and print its trace and outcome",
    )
    run.add_argument("workload", help="workload id (see 'hvlab workloads')")
    run.add_argument("--design", default="hyperv", help=f"preset: {', '.join(PRESETS)}")
    run.add_argument(
        "--off",
        action="extend",
        nargs="+",
        default=[],
        metavar="ID",
        help="switch protections off (see 'hvlab protections')",
    )
    run.add_argument("--seed", type=SEED, default=0, help="scheduler and secret seed (default 0)")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--attack", metavar="NAME", help="inject an attack (see 'hvlab plugins')")

    matrix = sub.add_parser(
        "matrix",
        parents=[with_plugins],
        help="every attack under all 256 designs, checked against its contract",
    )
    matrix.add_argument("--json", action="store_true", help="print one JSON object")
    matrix.add_argument(
        "--jobs",
        type=whole(1),
        default=min(2, CORES),
        help=f"worker processes (default {min(2, CORES)}; more than the {CORES} cores are capped)",
    )

    sub.add_parser("plugins", parents=[with_plugins], help="list loaded plugins and their attacks")

    export = sub.add_parser(
        "export",
        parents=[with_plugins],
        help="write the architecture graph, or a trace file of a run's moment",
    )
    export.add_argument("what", choices=["topology", "trace"], help="what to export")
    export.add_argument(
        "file", nargs="?", metavar="FILE", help="the file to write (topology: stdout when left out)"
    )
    export.add_argument("--format", default="dot", choices=["dot", "mermaid", "json"])
    export.add_argument("--design", default="hyperv", help=f"preset: {', '.join(PRESETS)}")
    export.add_argument("--off", action="extend", nargs="+", default=[], metavar="ID")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    export.add_argument("--workload", help="trace: the workload (default: the attack's, or boot)")
    export.add_argument("--attack", metavar="NAME", help="trace: inject this attack")
    export.add_argument("--seed", type=SEED, default=0, help="trace: the seed (default 0)")
    export.add_argument("--step", type=STEP, help="trace: the step to open at (default: the end)")
    export.add_argument("--lesson", default="", metavar="ID", help="trace: the lesson, if any")
    export.add_argument(
        "--lesson-step", type=whole(0, 999), default=0, help="trace: the lesson step (from 0)"
    )

    replay = sub.add_parser(
        "replay",
        parents=[with_plugins],
        help="open a trace file at its step, after verifying it",
    )
    replay.add_argument("file", metavar="FILE")
    replay.add_argument(
        "--check", action="store_true", help="only verify: exit 0 if it rebuilds, 1 if not"
    )

    new = sub.add_parser("new", help="scaffold a plugin package or a lesson file")
    new.add_argument("what", choices=["plugin", "lesson"])
    new.add_argument("name", help="the plugin's name or the lesson's id, e.g. page-sharing-snoop")
    new.add_argument(
        "--dir", default=".", help="where to create hvlab-NAME/ or ID.toml (default: here)"
    )

    sub.add_parser(
        "lessons", parents=[with_plugins, with_lessons], help="list the lessons with your progress"
    )
    lesson = sub.add_parser(
        "lesson", parents=[with_plugins, with_lessons], help="open the lab on a lesson"
    )
    lesson.add_argument("id", help="lesson id (see 'hvlab lessons')")
    check = sub.add_parser(
        "check",
        parents=[with_plugins],
        help="replay every lesson's reference and known-bad moves, and the contracts",
    )
    check.add_argument("paths", nargs="*", metavar="PATH", help="lesson files or folders")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    check.add_argument(
        "--no-contracts", action="store_true", help="skip the attack contracts (lessons only)"
    )
    fuzz = sub.add_parser("fuzz", help="the SDL gate: random and boundary hypercalls")
    fuzz.add_argument(
        "--seconds", type=seconds(0.1, 86400), default=30, help="time limit (default 30)"
    )
    fuzz.add_argument("--off", action="extend", nargs="+", default=[], metavar="ID")
    fuzz.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    progress = sub.add_parser("progress", help="export or import your lesson progress")
    progress.add_argument("action", choices=["export", "import", "show"])
    progress.add_argument("file", nargs="?", help="the file to write or read")

    serve = sub.add_parser("serve", help="serve the TUI to a browser (textual-serve)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=whole(1, 65535), default=8000, help="port (default 8000)")
    serve.add_argument(
        "--progress-dir",
        metavar="DIR",
        help="keep each student's progress in DIR/NAME.toml (each browser session asks a name); "
        "without it, a session's progress lives in memory only",
    )
    add_lab_options(serve)

    sub.add_parser("workloads", help="list workloads")
    sub.add_parser(
        "protections",
        parents=[with_plugins],
        help="list the protections and the principle each teaches",
    )
    return parser


PLUGIN_HELP = "also load this plugin file (repeatable)"
LESSONS_HELP = "also offer the lessons in this file or folder, after the shipped ones (repeatable)"


def add_paths(parser, flag: str, text: str, dest: str | None = None) -> None:
    """A repeatable option naming a file or folder each time."""
    parser.add_argument(
        flag, **({"dest": dest} if dest else {}), action="append", default=[], metavar="PATH",
        help=text,
    )  # fmt: skip


def add_lab_options(parser: argparse.ArgumentParser) -> None:
    """What `hvlab` (the TUI) and `hvlab serve` open on; without any, the start screen."""
    from hvlab.model.core.protections import PRESETS

    lab = parser.add_argument_group("opening the lab (the TUI)")
    lab.add_argument("--workload", metavar="ID", help="open the lab on this workload")
    lab.add_argument("--attack", dest="lab_attack", metavar="NAME", help="with this attack")
    lab.add_argument(
        "--design", dest="lab_design", metavar="PRESET", help=f"preset: {', '.join(PRESETS)}"
    )
    lab.add_argument(
        "--off",
        dest="lab_off",
        action="extend",
        nargs="+",
        default=[],
        metavar="ID",
        help="protections switched off",
    )
    lab.add_argument("--seed", dest="lab_seed", type=SEED, default=0, help="seed (default 0)")
    add_paths(lab, "--plugin", PLUGIN_HELP, dest="lab_plugin")
    add_paths(lab, "--lessons", LESSONS_HELP, dest="lab_lessons")
    lab.add_argument(
        "--present",
        nargs="?",
        const=2.0,
        type=seconds(0.05, 3600),
        metavar="SECONDS",
        help="presenter mode: play at this pace (default 2 s a step), captions, pause on decisions",
    )
    lab.add_argument(
        "--narrate",
        action="store_true",
        help="narration mode: one labelled line per step, no drawing (screen readers, captions)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every way it can fail on the user's input or the user's machine ends
    here as one line on stderr and a non-zero status: 2 for bad input, 1 for output that could
    not be written, 141 (as a shell reports SIGPIPE) when the reader of the output went away."""
    from hvlab.output import OutputError, guarded_streams, say_error, silence_stdout

    args_list = list(sys.argv[1:] if argv is None else argv)
    with guarded_streams():
        try:
            parser = build_parser()
            args = parser.parse_args(args_list)
            code = cmd_tui(args) if args.command is None else COMMANDS[args.command](args)
            sys.stdout.flush()  # a full disk shows here, while we can still say so
            return code
        except UsageError as exc:
            say_error(str(exc))
            return 2
        except OutputError as exc:
            silence_stdout()
            if exc.broken_pipe:
                return 141
            say_error(str(exc))
            return 1
        except KeyboardInterrupt:
            return 130


def catalogue_from(args: argparse.Namespace):
    """Load plugins; each load error is one line on stderr, and the lab goes on without it."""
    from hvlab.plugins import load_catalogue

    cat = load_catalogue(getattr(args, "plugin", []))
    report_plugin_errors(cat)
    return cat


def cmd_run(args: argparse.Namespace) -> int:
    from hvlab.session import RunSpec, SessionError, run_lab

    cat = catalogue_from(args)
    spec = RunSpec(args.workload, args.attack, args.design, tuple(args.off), args.seed)
    try:
        lab = run_lab(cat, spec)
    except SessionError as exc:
        raise UsageError(str(exc)) from None
    design, outcome = lab.design, lab.outcome
    if args.json:
        json.dump(lab.to_json(), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        from hvlab.render import outcome_lines, trace_lines

        out = sys.stdout
        out.write(f"hvlab run {lab.workload}  design={design.label}  seed={lab.seed}\n")
        for line in trace_lines(lab.events):
            out.write(line + "\n")
        for line in outcome_lines(outcome):
            out.write(line + "\n")
        out.write(f"digest {lab.digest}\n")
    return 1 if outcome.result == "error" else 0


def design_from(args: argparse.Namespace, extra: tuple[str, ...] = ()):
    from hvlab.model.core.protections import Design, UnknownDesignError, UnknownProtectionError

    try:
        return Design.build(args.design, args.off, extra)
    except (UnknownProtectionError, UnknownDesignError) as exc:
        raise UsageError(str(exc)) from None


def lab_session(args: argparse.Namespace):
    """The catalogue and, when the options name a run, its session (None: the start screen)."""
    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session, SessionError

    cat = load_catalogue(args.lab_plugin, echo=False)
    report_plugin_errors(cat)
    if not (args.workload or args.lab_attack or args.lab_design or args.lab_off):
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


def cmd_tui(args: argparse.Namespace) -> int:
    import os

    cat, session = lab_session(args)
    # TEXTUAL_DRIVER is set when something drives the app without a terminal (`hvlab serve`)
    terminal = os.environ.get("TEXTUAL_DRIVER") or (sys.stdout.isatty() and sys.stdin.isatty())
    if not terminal and args.narrate:
        # a pipe, a caption file, a screen reader's log: narrate the whole run
        from hvlab.narration import narrate_all
        from hvlab.session import RunSpec, Session

        session = session or Session(RunSpec(), cat)
        lab = session.lab
        for line in narrate_all(lab.events, len(lab.events)):
            print(line)
        print(f"Outcome: {lab.outcome.result}.")
        return 0
    present = args.present
    if session is not None:
        return open_tui(cat, session, narrate=args.narrate, present=present)
    lessons, _errors, _cat, progress = lessons_and_progress(args.lab_lessons, args.lab_plugin)
    return open_tui(
        cat, None, narrate=args.narrate, lessons=lessons, progress=progress, present=present
    )


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
) -> int:
    import os

    # TEXTUAL_DRIVER is set when something drives the app without a terminal (`hvlab serve`)
    terminal = os.environ.get("TEXTUAL_DRIVER") or (sys.stdout.isatty() and sys.stdin.isatty())
    if not terminal:
        raise UsageError(
            "the lab needs a terminal; without one use 'hvlab run boot' for a trace, "
            "'hvlab --narrate' for a narrated one, or 'hvlab serve' for a browser"
        )
    from pathlib import Path

    from hvlab.tui.app import HvlabApp

    served_dir = os.environ.get(PROGRESS_DIR) if os.environ.get(SERVED) == "1" else None
    app = HvlabApp(
        cat,
        session,
        narrate=narrate,
        lessons=list(lessons),
        progress=progress,
        lesson=lesson,
        at_step=at_step,
        present=present,
        progress_dir=Path(served_dir) if served_dir and lessons else None,
    )
    with raw_streams():
        app.run()
    return app.return_code or 0  # 1 when the app ended on an error it could not handle


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


def write_output(path: str, data: bytes) -> None:
    """Write a file the user named (a report, an export); one line when it cannot be."""
    from hvlab.userfiles import reason, shown, write_atomically

    try:
        write_atomically(path, data)
    except (OSError, ValueError) as exc:
        why = reason(exc) if isinstance(exc, OSError) else "not a valid path"
        raise UsageError(f"cannot write {shown(path)}: {why}") from None


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


def cmd_export(args: argparse.Namespace) -> int:
    if args.what == "trace":
        return export_trace(args)
    from hvlab.model.core import topology

    design = design_from(args)
    if args.format == "json":
        text = json.dumps(topology.to_json(design), indent=1, sort_keys=True) + "\n"
    elif args.format == "mermaid":
        text = topology.to_mermaid(design)
    else:
        text = topology.to_dot(design)
    if args.output and args.file and args.output != args.file:
        raise UsageError(f"name the file once: {args.file} or -o {args.output}")
    target = args.output or args.file
    if target:
        write_output(target, text.encode())
        print(f"wrote {target}")
    else:
        sys.stdout.write(text)
    return 0


def export_trace(args: argparse.Namespace) -> int:

    from hvlab import tracefile
    from hvlab.session import RunSpec, SessionError

    if not args.file:
        raise UsageError("'hvlab export trace' needs a FILE to write")
    cat = catalogue_from(args)
    workload = args.workload
    if workload is None:
        attack = cat.attacks.get(args.attack) if args.attack else None
        workload = attack.workload if attack else "boot"
    spec = RunSpec(workload, args.attack, args.design, tuple(args.off), args.seed)
    try:
        moment = tracefile.capture(
            cat, spec, args.step, lesson=args.lesson, lesson_step=args.lesson_step
        )
    except SessionError as exc:
        raise UsageError(str(exc)) from None
    write_output(args.file, tracefile.to_bytes(moment))
    print(f"wrote {args.file}: {spec.describe()}, step {moment.step} of {moment.events - 1}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hvlab import tracefile
    from hvlab.plugins import load_catalogue

    cat = load_catalogue(args.plugin, echo=False)
    report_plugin_errors(cat)
    try:
        moment, problem = tracefile.verify(Path(args.file), cat)
    except tracefile.TraceFileError as exc:
        print(f"hvlab: {exc}", file=sys.stderr)
        return 1 if args.check else 2
    if problem:
        print(f"hvlab: {problem}", file=sys.stderr)
        return 1 if args.check else 2
    if args.check:
        print(
            f"{args.file}: rebuilds the same trace ({moment.events} events, digest "
            f"{moment.digest[:12]}…)"
        )
        return 0
    from hvlab.session import Session

    session = Session(moment.spec, cat)
    session.goto(moment.step)
    lessons, _errors, _cat, progress = lessons_and_progress(report=False)
    lesson = next((x for x in lessons if x.id == moment.lesson), None)
    if lesson is not None:
        if moment.lesson_step >= len(lesson.steps):
            raise UsageError(
                f"{args.file}: lesson step {moment.lesson_step} is outside lesson "
                f"'{lesson.id}' (0 to {len(lesson.steps) - 1})"
            )
        entry = progress.get(lesson.id)
        entry.step = moment.lesson_step
        return open_tui(
            cat,
            None,
            narrate=False,
            lessons=lessons,
            progress=progress,
            lesson=lesson,
            at_step=moment.step,
        )
    return open_tui(cat, session, narrate=False)


def cmd_matrix(args: argparse.Namespace) -> int:
    import time

    from hvlab.matrix import matrix

    cat = catalogue_from(args)
    started = time.perf_counter()
    from hvlab.plugins import site_handler

    rows = matrix(
        list(cat.attacks.values()),
        jobs=min(args.jobs, CORES),
        site_handler=site_handler(cat),
        defenses=cat.extra_protections,
    )
    seconds = time.perf_counter() - started
    if args.json:
        doc = {
            "designs": 256,
            "seconds": round(seconds, 2),
            "attacks": [r.to_json() for r in rows],
            "mismatches": [r.attack for r in rows if not r.matches],
        }
        json.dump(doc, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        fmt = lambda sets: " or ".join("{" + ", ".join(sorted(x)) + "}" for x in sets) or "never"  # noqa: E731
        for r in rows:
            mark = "ok      " if r.matches else "MISMATCH"
            hits = sum(v == "breached" for v in r.cells.values())
            print(
                f"{mark} {r.attack:<22} breached in {hits:>3}/{len(r.cells)}  found {fmt(r.found)}"
            )
            if r.found_all != r.found:
                print(f"         {'':<22} with plugin defenses: {fmt(r.found_all)}")
            if not r.matches:
                print(f"         {'':<22} declared {fmt(r.declared)}; errors {r.errors}")
        print(f"{len(rows)} attacks x {2 ** (8 + len(cat.defenses))} designs in {seconds:.1f} s")
    return 0 if all(r.matches for r in rows) else 1


def cmd_plugins(args: argparse.Namespace) -> int:
    cat = catalogue_from(args)
    for info in cat.plugins:
        plugin = cat.manager.get_plugin(info.name)
        hooks = sorted(h.name for h in cat.manager.get_hookcallers(plugin) or [])
        attacks = sorted(a.name for a in cat.attacks.values() if a.plugin == info.name)
        drivers = sorted(d for d, owner in cat.driver_owners.items() if owner == info.name)
        version = f" {info.version}" if info.version else ""
        print(f"{info.name}{version}  ({info.source})")
        print(f"  hooks:   {', '.join(hooks) or '-'}")
        print(f"  attacks: {', '.join(attacks) or '-'}")
        if drivers:  # what it may install at sites, or the defenses it runs there
            print(f"  sites:   {', '.join(drivers)}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hvlab.scaffold import ScaffoldError, new_lesson, new_plugin

    try:
        if args.what == "lesson":
            path = new_lesson(args.name, Path(args.dir))
            print(f"created {path}: edit it, then hvlab check {path}")
            return 0
        root = new_plugin(args.name, Path(args.dir))
    except (ScaffoldError, OSError) as exc:
        raise UsageError(str(exc)) from None
    print(f"created {root}: cd there, pip install -e '.[test]', then hvlab plugins")
    return 0


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
    return lessons, errors, cat, open_progress()


SERVED, PROGRESS_DIR = "HVLAB_SERVED", "HVLAB_PROGRESS_DIR"  # set by `hvlab serve` for its apps


def open_progress():
    """The learner's progress; what opening it had to mend (a file set aside, a backup
    restored, a newer file opened read-only) is one line each on stderr. A browser session
    of `hvlab serve` never shares the teacher's file: it keeps progress in memory, or, with
    --progress-dir, in a file of the student's own (the app asks for a name)."""
    from hvlab.lessons.progress import SERVED_IN_MEMORY, Progress

    if os.environ.get(SERVED) == "1":
        return Progress.in_memory("" if os.environ.get(PROGRESS_DIR) else SERVED_IN_MEMORY)
    progress = Progress.open()
    for notice in progress.notices:
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


def cmd_lessons(args: argparse.Namespace) -> int:
    lessons, errors, cat, progress = lessons_and_progress(args.lessons, args.plugin)
    errors = errors + report_plugin_errors(cat)
    for i, lesson in enumerate(lessons, 1):
        status = progress.status(lesson.id)
        after = f"  (after {', '.join(lesson.prerequisites)})" if lesson.prerequisites else ""
        print(f"{i:>2}. {lesson.id:<26} {status:<12} {lesson.title}{after}")
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
    check_lesson_paths(paths, "check:")
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
        json.dump(doc, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
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


def cmd_fuzz(args: argparse.Namespace) -> int:
    from hvlab.fuzz import fuzz
    from hvlab.model.core.protections import known_protections

    for pid in args.off:
        if pid not in known_protections():
            raise UsageError(
                f"unknown protection '{pid}' (valid: {', '.join(known_protections())})"
            )
    off = frozenset(args.off)
    design = ", ".join(sorted(off)) or "none"
    print(f"hvlab fuzz: hypercalls from guest A, protections off: {design}", flush=True)
    found = fuzz(off, args.seconds, args.seed)
    if found.problem is None:
        print(f"no violation in {found.calls} calls ({found.seconds:.1f} s)")
        return 0
    print(f"VIOLATION after {found.calls} calls ({found.seconds:.1f} s): {found.problem}")
    print(f"minimal input: {found.minimal.describe()}")
    return 1


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


def cmd_workloads(_args: argparse.Namespace) -> int:
    from hvlab.model.scenarios.workloads import WORKLOADS

    for w in WORKLOADS.values():
        print(f"{w.name:<14} {w.summary}")
    return 0


def cmd_protections(args: argparse.Namespace) -> int:
    from hvlab.model.core.protections import PRINCIPLES

    for pid, text in PRINCIPLES.items():
        print(f"{pid:<26} {text}")
    for pid, (text, plugin) in catalogue_from(args).defenses.items():
        print(f"{pid:<26} {text} (plugin {plugin})")
    return 0


COMMANDS = {
    "run": cmd_run,
    "serve": cmd_serve,
    "lessons": cmd_lessons,
    "lesson": cmd_lesson,
    "check": cmd_check,
    "fuzz": cmd_fuzz,
    "progress": cmd_progress,
    "replay": cmd_replay,
    "export": cmd_export,
    "matrix": cmd_matrix,
    "new": cmd_new,
    "plugins": cmd_plugins,
    "workloads": cmd_workloads,
    "protections": cmd_protections,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
