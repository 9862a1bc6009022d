"""The `hvlab` command line. Start-up stays light: no Textual, no networkx here."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from hvlab import __version__
from hvlab.commands.common import CORES, UsageError


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


class MoveAction(argparse.Action):
    """--do LINE: a (step, line) pair, the step from the --at before it (None: at the end)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        moves = list(getattr(namespace, self.dest) or [])
        moves.append((getattr(namespace, "at", None), values))
        setattr(namespace, self.dest, moves)


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
    add_move_options(run)
    run.add_argument(
        "--every-design",
        action="store_true",
        help="judge the --do moves under every design: which protections stop them",
    )

    matrix = sub.add_parser(
        "matrix",
        parents=[with_plugins],
        help="every attack under every design (2^protections), checked against its contract",
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
    add_move_options(export)
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

    sub.add_parser(
        "exercises", help="list the exercises (write the check yourself) with your passes"
    )
    exercise = sub.add_parser("exercise", help="start, check, hint or open an exercise")
    exercise.add_argument("action", choices=["start", "check", "hint", "lab"])
    exercise.add_argument("id", help="exercise id (see 'hvlab exercises')")
    exercise.add_argument(
        "file", nargs="?", help="check / lab: your file (default: ID.py in --dir)"
    )
    exercise.add_argument(
        "--dir", default=".", help="start: where to write ID.py; the default file's folder"
    )
    exercise.add_argument("--force", action="store_true", help="start: overwrite ID.py")
    exercise.add_argument(
        "--watch", action="store_true", help="check: check again whenever the file changes"
    )
    exercise.add_argument("--json", action="store_true", help="check: print one JSON object")

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


def add_move_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        type=whole(-1),
        metavar="STEP",
        help="the moves after this run after event STEP (default: once the workload's own "
        "programs are done)",
    )
    parser.add_argument(
        "--do",
        action=MoveAction,
        dest="moves",
        default=[],
        metavar="MOVE",
        help="make a move: 'PRINCIPAL: ACTION ARGS', e.g. 'A: read 0x28000' (repeatable; "
        "'--do help' lists the actions)",
    )


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
            code = command(args.command)(args)
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


# Each command's module, imported only when it runs: `hvlab --help` loads none of them.
COMMANDS = {
    "run": "runs:cmd_run",
    "matrix": "runs:cmd_matrix",
    "fuzz": "runs:cmd_fuzz",
    "workloads": "runs:cmd_workloads",
    "protections": "runs:cmd_protections",
    "lessons": "course:cmd_lessons",
    "exercises": "exercises:cmd_exercises",
    "exercise": "exercises:cmd_exercise",
    "lesson": "course:cmd_lesson",
    "check": "course:cmd_check",
    "progress": "course:cmd_progress",
    "export": "traces:cmd_export",
    "replay": "traces:cmd_replay",
    "plugins": "authoring:cmd_plugins",
    "new": "authoring:cmd_new",
    "serve": "lab:cmd_serve",
    None: "lab:cmd_tui",  # plain `hvlab`: the lab
}


def command(name: str | None):
    """The function that carries out a command."""
    import importlib

    module, _, function = COMMANDS[name].partition(":")
    return getattr(importlib.import_module(f"hvlab.commands.{module}"), function)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
