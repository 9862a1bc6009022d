"""`hvlab export` (the architecture graph, a trace file of a moment) and `hvlab replay`."""

from __future__ import annotations

import argparse
import json
import sys

from hvlab.commands.common import (
    UsageError,
    catalogue_from,
    design_from,
    lessons_and_progress,
    moves_from,
    report_plugin_errors,
    write_output,
)
from hvlab.commands.lab import open_tui


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
    moves = moves_from(args)
    if moves is None:
        return 0
    spec = RunSpec(workload, args.attack, args.design, tuple(args.off), args.seed, moves)
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
