"""The `hvlab` command line. Start-up stays light: no Textual, no networkx here."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from hvlab import __version__


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> Parser:
    from hvlab.model.protections import PRESETS

    parser = Parser(
        prog="hvlab",
        description="A terminal lab that steps through a Hyper-V style hypervisor, event by event.",
    )
    parser.add_argument("--version", action="version", version=f"hvlab {__version__}")
    add_lab_options(parser)
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    with_plugins = Parser(add_help=False)
    with_plugins.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="PATH",
        help="also load this plugin file (repeatable)",
    )

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
    run.add_argument("--seed", type=int, default=0, help="scheduler and secret seed (default 0)")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--attack", metavar="NAME", help="inject an attack (see 'hvlab plugins')")

    matrix = sub.add_parser(
        "matrix",
        parents=[with_plugins],
        help="every attack under all 256 designs, checked against its contract",
    )
    matrix.add_argument("--json", action="store_true", help="print one JSON object")
    matrix.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")

    sub.add_parser("plugins", parents=[with_plugins], help="list loaded plugins and their attacks")

    export = sub.add_parser("export", help="write the architecture graph")
    export.add_argument("what", choices=["topology"], help="what to export")
    export.add_argument("--format", default="dot", choices=["dot", "mermaid", "json"])
    export.add_argument("--design", default="hyperv", help=f"preset: {', '.join(PRESETS)}")
    export.add_argument("--off", action="extend", nargs="+", default=[], metavar="ID")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")

    new = sub.add_parser("new", help="scaffold a plugin package")
    new.add_argument("what", choices=["plugin"])
    new.add_argument("name", help="the plugin's name, e.g. page-sharing-snoop")
    new.add_argument("--dir", default=".", help="where to create hvlab-NAME/ (default: here)")

    serve = sub.add_parser("serve", help="serve the TUI to a browser (textual-serve)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    add_lab_options(serve)

    sub.add_parser("workloads", help="list workloads")
    sub.add_parser(
        "protections",
        parents=[with_plugins],
        help="list the protections and the principle each teaches",
    )
    return parser


def add_lab_options(parser: argparse.ArgumentParser) -> None:
    """What `hvlab` (the TUI) and `hvlab serve` open on; without any, the start screen."""
    from hvlab.model.protections import PRESETS

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
    lab.add_argument("--seed", dest="lab_seed", type=int, default=0, help="seed (default 0)")
    lab.add_argument(
        "--plugin",
        dest="lab_plugin",
        action="append",
        default=[],
        metavar="PATH",
        help="also load this plugin file (repeatable)",
    )
    lab.add_argument(
        "--narrate",
        action="store_true",
        help="narration mode: one labelled line per step, no drawing (screen readers, captions)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if args.command is None:
            return cmd_tui(args)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"hvlab: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


def catalogue_from(args: argparse.Namespace):
    """Load plugins; each load error is one line on stderr, and the lab goes on without it."""
    from hvlab.plugins import load_catalogue

    cat = load_catalogue(getattr(args, "plugin", []))
    for error in cat.errors:
        print(f"hvlab: {error}", file=sys.stderr)
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
    from hvlab.model.protections import Design, UnknownDesignError, UnknownProtectionError

    try:
        return Design.build(args.design, args.off, extra)
    except (UnknownProtectionError, UnknownDesignError) as exc:
        raise UsageError(str(exc)) from None


def lab_session(args: argparse.Namespace):
    """The catalogue and, when the options name a run, its session (None: the start screen)."""
    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session, SessionError

    cat = load_catalogue(args.lab_plugin, echo=False)
    for error in cat.errors:
        print(f"hvlab: {error}", file=sys.stderr)
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
    if not terminal:
        raise UsageError(
            "the lab needs a terminal; without one use 'hvlab run boot' for a trace, "
            "'hvlab --narrate' for a narrated one, or 'hvlab serve' for a browser"
        )
    from hvlab.tui.app import HvlabApp

    HvlabApp(cat, session, narrate=args.narrate).run()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import shlex

    from textual_serve.server import Server

    lab_session(args)  # bad options fail here, in the terminal, not in the browser
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
    if args.narrate:
        argv.append("--narrate")
    print(f"hvlab: serving on http://{args.host}:{args.port} (ctrl+c stops)", file=sys.stderr)
    server = Server(shlex.join(argv), host=args.host, port=args.port, title="hvlab")
    server.serve()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from hvlab.model import topology

    design = design_from(args)
    if args.format == "json":
        text = json.dumps(topology.to_json(design), indent=1, sort_keys=True) + "\n"
    elif args.format == "mermaid":
        text = topology.to_mermaid(design)
    else:
        text = topology.to_dot(design)
    if args.output:
        from pathlib import Path

        try:
            Path(args.output).write_text(text)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    import time

    from hvlab.matrix import matrix

    cat = catalogue_from(args)
    started = time.perf_counter()
    from hvlab.plugins import site_handler

    rows = matrix(
        list(cat.attacks.values()),
        jobs=max(1, args.jobs),
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

    from hvlab.scaffold import ScaffoldError, new_plugin

    try:
        root = new_plugin(args.name, Path(args.dir))
    except (ScaffoldError, OSError) as exc:
        raise UsageError(str(exc)) from None
    print(f"created {root}: cd there, pip install -e '.[test]', then hvlab plugins")
    return 0


def cmd_workloads(_args: argparse.Namespace) -> int:
    from hvlab.model.workloads import WORKLOADS

    for w in WORKLOADS.values():
        print(f"{w.name:<14} {w.summary}")
    return 0


def cmd_protections(args: argparse.Namespace) -> int:
    from hvlab.model.protections import PRINCIPLES

    for pid, text in PRINCIPLES.items():
        print(f"{pid:<26} {text}")
    for pid, (text, plugin) in catalogue_from(args).defenses.items():
        print(f"{pid:<26} {text} (plugin {plugin})")
    return 0


COMMANDS = {
    "run": cmd_run,
    "serve": cmd_serve,
    "export": cmd_export,
    "matrix": cmd_matrix,
    "new": cmd_new,
    "plugins": cmd_plugins,
    "workloads": cmd_workloads,
    "protections": cmd_protections,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
