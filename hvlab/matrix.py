"""The defense matrix: every attack under every design, and each attack's contract.

A design is a subset of the protections switched off: 2^8 = 256 of them. For each attack the
matrix records breached/blocked per design, derives the minimal breach sets the model shows,
and compares them with the sets the attack's plugin declared. A mismatch is a broken contract.

Cells start from the state the `boot` workload leaves (computed once per process for each
variant of it), then run the services and the attack's actors: the attack programs wait for
boot to finish anyway, so this skips only work whose result is already known. A test checks
the shortcut against full runs.

Most designs need no run of their own. A run depends on the design only through the switches
it asks about (`Design.is_on`; the topology asks too), and it is deterministic: so a design
that agrees with an earlier run's design on every switch that run asked about would run the
same way, step for step, and gets its verdict. An attack whose path asks about three switches
is run a handful of times, not 512. A test checks this against a run of every cell.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Any

from hvlab.model.core import engine, guard
from hvlab.model.core.attacks import Attack, Breach, minimal_sets
from hvlab.model.core.canaries import ProbeOutcome, assess
from hvlab.model.core.protections import Design, Protection, known_protections
from hvlab.model.scenarios.workloads import CONTINUATIONS, boot, services
from hvlab.model.system import Machine


def continuation(workload: str, m: Machine) -> list[engine.Actor]:
    """What a workload does after boot, as actors that can start from the booted state."""
    build = CONTINUATIONS.get(workload)
    if build is None and workload != "boot":
        raise ValueError(f"workload '{workload}' has no post-boot form for the matrix")
    return build(m) if build else []


# Protections that change the state boot leaves behind (the rest only change later behaviour).
BOOT_STATE = frozenset({Protection.SEPARATE_ADDRESS_SPACES.value})


def all_designs(extra: tuple[str, ...] = ()) -> list[frozenset[str]]:
    ids = known_protections(extra)
    out = []
    for k in range(len(ids) + 1):
        out += [frozenset(c) for c in combinations(ids, k)]
    return out


@lru_cache(maxsize=64)
def booted_state(boot_off: frozenset[str], seed: int) -> dict:
    m = Machine(Design(boot_off), seed)
    engine.run(m, boot(m), seed)
    return m.store.snapshot()


class RecordingDesign(Design):
    """A design that notes every switch the run asks about."""

    __slots__ = ("asked",)

    def __init__(self, off: frozenset[str]) -> None:
        super().__init__(off, "custom")
        object.__setattr__(self, "asked", set())

    def is_on(self, protection: str) -> bool:
        self.asked.add(protection)
        return protection not in self.off


def run_cell(
    attack: Attack, off: frozenset[str], seed: int = 0, site_handler=None, defenses=()
) -> str:
    """The oracle's verdict on one attack under one design."""
    return run_design(attack, Design(off), seed, site_handler, defenses)


def run_design(
    attack: Attack, design: Design, seed: int = 0, site_handler=None, defenses=()
) -> str:
    """The verdict under a Design object (a RecordingDesign notes what the run asked)."""
    return judge(attack, design, seed, site_handler, defenses).result


def booted_machine(
    design: Design, seed: int = 0, site_handler=None, defenses=(), canaries=(), slot_handler=None
) -> Machine:
    """A machine in the state boot leaves under `design` (its BOOT_STATE switches), with the
    lab layer's handlers and the plugins' defenses and canaries: where a cell starts."""
    m = Machine(design, seed, state=booted_state(design.off & BOOT_STATE, seed))
    m.site_handler = site_handler
    m.slot_handler = slot_handler
    m.defenses = tuple(defenses)
    if canaries:  # the plugins' canaries: the booted state has the lab's only
        m.plugin_canaries = tuple(canaries)
        m.plant_plugin_canaries()
    return m


def after_boot(m: Machine, workload: str, attack: Attack | None) -> list[engine.Actor]:
    """What runs from the booted state: the services, the workload's continuation, and the
    attack's actors (fenced, as its plugin's code)."""
    actors = services(m) + continuation(workload, m)
    if attack is not None:
        actors += [
            engine.plugin_actor(a.name, a.partition, a.program, m, attack.plugin)
            for a in guard.actors_of(attack, m)
        ]
    return actors


def judge(
    attack: Attack,
    design: Design,
    seed: int = 0,
    site_handler=None,
    defenses=(),
    canaries=(),
    slot_handler=None,
) -> ProbeOutcome:
    """The oracle's verdict on the attack's probe under `design`, with its reason;
    `slot_handler`: a learner's check in the model's place (hvlab.exercises)."""
    m = booted_machine(design, seed, site_handler, defenses, canaries, slot_handler)
    engine.run(m, after_boot(m, attack.workload, attack), seed, plant=False)
    outcome = assess(m.events)
    if outcome.failures:  # the plugin failed: it decides nothing, wherever it failed
        return ProbeOutcome(attack.name, "error", reason=outcome.failures[0][1])
    try:
        return outcome.probe(attack.name)
    except KeyError:
        return ProbeOutcome(
            attack.name, "error", reason=f"no probe named '{attack.name}' began (BeginProbe)"
        )


def by_asked_switches(designs, run, always=frozenset(), stop=None) -> tuple[dict, int]:
    """`run(design)` (a RecordingDesign) for each design no earlier run decides — one that
    agrees with an earlier run's design on every switch that run asked about (and `always`)
    gets its verdict (see the module's docstring). Once `stop(verdict)` holds, every remaining
    design gets that verdict without a run. Returns the verdicts and how many runs it took."""
    known: list[tuple[frozenset[str], frozenset[str], Any]] = []  # (asked, off∩asked, verdict)
    out: dict[frozenset[str], Any] = {}
    stopped = None
    for off in designs:
        verdict = stopped or next((v for asked, part, v in known if off & asked == part), None)
        if verdict is None:
            design = RecordingDesign(off)
            verdict = run(design)
            asked = frozenset(str(getattr(p, "value", p)) for p in design.asked) | always
            known.append((asked, off & asked, verdict))
            if stop is not None and stop(verdict):
                stopped = verdict
        out[off] = verdict
    return out, len(known)


def design_text(off: frozenset[str]) -> str:
    """A design in words: `every protection on`, or `{a, b} off`."""
    return "{" + ", ".join(sorted(off)) + "} off" if off else "every protection on"


def attack_cells(
    attack: Attack,
    designs: list[frozenset[str]],
    seed: int = 0,
    site_handler=None,
    defenses=(),
    reasons: dict | None = None,
    canaries=(),
    slot_handler=None,
    outcomes: dict | None = None,
) -> tuple[dict[frozenset[str], str], int]:
    """The verdict under every design, running only designs no earlier run decides (see the
    module's docstring). Returns the cells and how many runs were needed; `reasons`, if given,
    gets the oracle's reason for each cell. Once the plugin fails (its program raised, overran
    its budget, …) it is not run again: every remaining cell is that error."""
    verdicts, runs = by_asked_switches(
        designs,
        lambda design: judge(attack, design, seed, site_handler, defenses, canaries, slot_handler),
        BOOT_STATE,  # the cell started from that state
        stop=lambda v: v.result == "error" and v.reason.startswith("plugin "),
    )
    cells = {off: v.result for off, v in verdicts.items()}
    if outcomes is not None:
        outcomes.update(verdicts)
    if reasons is not None:
        reasons.update({off: v.reason or v.protection or "" for off, v in verdicts.items()})
    return cells, runs


@dataclass(frozen=True)
class Mismatch:
    """A design where the contract and the model differ: what was declared, what the oracle
    found, and its reason."""

    off: frozenset[str]
    declared: str
    found: str
    reason: str

    def describe(self) -> str:
        design = design_text(self.off)
        why = f" ({self.reason})" if self.reason else ""
        return f"{design}: declared {self.declared}, the model found {self.found}{why}"


@dataclass
class Row:
    attack: str
    plugin: str
    declared: tuple  # the contract: frozensets, and Breach records
    found: tuple[frozenset[str], ...]  # with every plugin defense off, as declared
    cells: dict[frozenset[str], str]
    found_all: tuple[frozenset[str], ...] = ()  # over every design, plugin defenses included
    mismatches: list[Mismatch] = field(default_factory=list)  # design by design

    @property
    def errors(self) -> int:
        return sum(1 for r in self.cells.values() if r == "error")

    @property
    def matches(self) -> bool:
        return not self.errors and not self.mismatches

    def explain(self, limit: int = 3) -> list[str]:
        """Where the contract and the model differ: the first few designs, with the oracle's
        reason in each, and how many there are in all."""
        reasons = {m.reason for m in self.mismatches}
        if len(reasons) == 1 and next(iter(reasons)).startswith("plugin "):
            return [f"in all {len(self.mismatches)} designs: {next(iter(reasons))}"]
        lines = [m.describe() for m in self.mismatches[:limit]]
        more = len(self.mismatches) - limit
        if more > 0:
            lines.append(f"… and {more} more design{'s' if more > 1 else ''}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "plugin": self.plugin,
            "declared": [contract_json(s) for s in self.declared],
            "found": [sorted(s) for s in self.found],
            "found_with_plugin_defenses": [sorted(s) for s in self.found_all],
            "matches": self.matches,
            "designs": len(self.cells),
            "breached": sum(1 for r in self.cells.values() if r == "breached"),
            "unavailable": sum(1 for r in self.cells.values() if r == "unavailable"),
            "blocked": sum(1 for r in self.cells.values() if r == "blocked"),
            "errors": self.errors,
            "mismatches": [m.describe() for m in self.mismatches],
            "cells": {
                ",".join(sorted(k)) or "-": v
                for k, v in sorted(self.cells.items(), key=lambda kv: (len(kv[0]), sorted(kv[0])))
            },
        }


def contract_text(sets) -> str:
    """A contract in words: `{a, b} or {c}`, `never`, or `{a} off and {b} on`."""

    def one(item) -> str:
        if isinstance(item, Breach):
            return (
                "{"
                + ", ".join(sorted(item.off))
                + "} off and {"
                + ", ".join(sorted(item.on))
                + "} on"
            )
        return "{" + ", ".join(sorted(item)) + "}"

    return " or ".join(one(x) for x in sets) or "never"


def contract_json(item) -> Any:
    """A contract's item: a list of ids, or {"off": [...], "on": [...]} for a Breach."""
    if isinstance(item, Breach):
        return {"off": sorted(item.off), "on": sorted(item.on)}
    return sorted(item)


THROUGH = ("breached", "unavailable")  # the verdicts that mean an attack got through

_ATTACKS: dict[str, Attack] = {}
_CONTEXT: dict[str, Any] = {"site_handler": None, "defenses": (), "canaries": ()}


def _attack(name: str) -> tuple[dict[frozenset[str], str], dict[frozenset[str], str]]:
    designs = all_designs(_CONTEXT["defenses"])
    reasons: dict[frozenset[str], str] = {}
    return attack_cells(_ATTACKS[name], designs, reasons=reasons, **_CONTEXT)[0], reasons


def matrix(
    attacks: list[Attack],
    jobs: int = 2,
    site_handler=None,
    defenses: tuple[str, ...] = (),
    canaries=(),
) -> list[Row]:
    """Run every attack under every design — 2^8 of them, times two for each plugin defense —
    over `jobs` processes. An attack's contract is checked in the designs where the plugin
    defenses are off (the world its author declared against); `found` covers them all."""
    _ATTACKS.clear()
    _ATTACKS.update({a.name: a for a in attacks})
    _CONTEXT.update(site_handler=site_handler, defenses=tuple(defenses), canaries=tuple(canaries))
    work = [a.name for a in attacks]
    if jobs > 1 and len(work) > 1:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs) as pool:
            results = pool.map(_attack, work, chunksize=1)
    else:
        results = [_attack(name) for name in work]
    found = dict(zip(work, results, strict=True))
    rows = []
    extra = frozenset(defenses)
    for a in attacks:
        cells, reasons = found[a.name]
        # an attack on availability gets through when it stops a component: as a breach does
        breached = [off for off, r in cells.items() if r in THROUGH]
        base = [off - extra for off in breached if extra <= off]
        # the contract, design by design, where the plugin defenses are off (as declared)
        differ = []
        for off, r in cells.items():
            if not extra <= off:
                continue
            said = a.predicts_breach(off - extra)
            if r == "error" or (r in THROUGH) != said:
                declared = "breached" if said else "blocked"
                differ.append(Mismatch(off - extra, declared, r, reasons.get(off, "")))
        rows.append(
            Row(
                a.name,
                a.plugin,
                a.breach_sets,
                minimal_sets(base),
                cells,
                minimal_sets(breached),
                differ,
            )
        )
    return rows
