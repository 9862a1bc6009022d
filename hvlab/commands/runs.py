"""`hvlab run`, `matrix`, `fuzz`, `workloads`, `protections`: runs of the model, headless."""

from __future__ import annotations

import argparse
import sys

from hvlab.commands.common import CORES, UsageError, catalogue_from, moves_from, print_json


def cmd_run(args: argparse.Namespace) -> int:
    from hvlab.session import RunSpec, SessionError, run_lab

    cat = catalogue_from(args)
    moves = moves_from(args)
    if moves is None:
        return 0
    spec = RunSpec(
        args.workload, args.attack, args.design, tuple(args.off), args.seed, tuple(moves)
    )
    if args.every_design:
        return _every_design(cat, spec, args.json)
    try:
        lab = run_lab(cat, spec)
    except SessionError as exc:
        raise UsageError(str(exc)) from None
    design, outcome = lab.design, lab.outcome
    if args.json:
        print_json(lab.to_json())
    else:
        from hvlab.render import move_lines, outcome_lines, trace_lines

        out = sys.stdout
        out.write(f"hvlab run {lab.workload}  design={design.label}  seed={lab.seed}\n")
        for line in trace_lines(lab.events):
            out.write(line + "\n")
        for line in outcome_lines(outcome):
            out.write(line + "\n")
        for line in move_lines(lab):
            out.write(line + "\n")
        out.write(f"digest {lab.digest}\n")
    return 1 if outcome.result == "error" else 0


def _every_design(cat, spec, as_json: bool) -> int:
    """`hvlab run --every-design`: the learner's moves under every design (the capstone)."""
    from hvlab.session import SessionError, judge_spec

    if not spec.moves:
        raise UsageError("--every-design judges moves: give at least one --do 'PRINCIPAL: ACTION'")
    try:
        judgement = judge_spec(cat, spec, jobs=min(2, CORES))
    except SessionError as exc:
        raise UsageError(str(exc)) from None
    if as_json:
        print_json(judgement.to_json())
    else:
        for line in judgement.lines():
            print(line)
    return 1 if judgement.mine.result == "error" else 0


def cmd_matrix(args: argparse.Namespace) -> int:
    import time

    from hvlab.matrix import contract_text, matrix
    from hvlab.model.core.protections import known_protections

    cat = catalogue_from(args)
    designs = 2 ** len(known_protections(cat.extra_protections))
    started = time.perf_counter()
    from hvlab.plugins import site_handler

    rows = matrix(
        list(cat.attacks.values()),
        jobs=min(args.jobs, CORES),
        site_handler=site_handler(cat),
        defenses=cat.extra_protections,
        canaries=tuple(cat.canaries),
    )
    seconds = time.perf_counter() - started
    if args.json:
        doc = {
            "designs": designs,
            "seconds": round(seconds, 2),
            "attacks": [r.to_json() for r in rows],
            "mismatches": [r.attack for r in rows if not r.matches],
        }
        print_json(doc)
    else:
        fmt = contract_text
        for r in rows:
            mark = "ok      " if r.matches else "MISMATCH"
            hits = sum(v == "breached" for v in r.cells.values())
            down = sum(v == "unavailable" for v in r.cells.values())
            verb = f"unavailable in {down:>3}" if down and not hits else f"breached in {hits:>3}"
            print(f"{mark} {r.attack:<22} {verb}/{len(r.cells)}  found {fmt(r.found)}")
            if r.found_all != r.found:
                print(f"         {'':<22} with plugin defenses: {fmt(r.found_all)}")
            if not r.matches:
                print(f"         {'':<22} declared {fmt(r.declared)}; errors {r.errors}")
                for line in r.explain():
                    print(f"         {'':<22} {line}")
        print(f"{len(rows)} attacks x {designs} designs in {seconds:.1f} s")
    return 0 if all(r.matches for r in rows) else 1


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
