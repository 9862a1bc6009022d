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
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Any

from hvlab.model.core import engine
from hvlab.model.core.attacks import Attack, minimal_sets
from hvlab.model.core.canaries import assess
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
    m = Machine(design, seed, state=booted_state(design.off & BOOT_STATE, seed))
    m.site_handler = site_handler
    m.defenses = tuple(defenses)
    actors = services(m) + continuation(attack.workload, m)
    actors += [engine.plugin_actor(a.name, a.partition, a.program, m) for a in attack.actors()]
    engine.run(m, actors, seed, plant=False)
    outcome = assess(m.events)
    try:
        return outcome.probe(attack.name).result
    except KeyError:
        return "error"


def attack_cells(
    attack: Attack, designs: list[frozenset[str]], seed: int = 0, site_handler=None, defenses=()
) -> tuple[dict[frozenset[str], str], int]:
    """The verdict under every design, running only designs no earlier run decides (see the
    module's docstring). Returns the cells and how many runs were needed."""
    known: list[tuple[frozenset[str], frozenset[str], str]] = []  # (asked, off ∩ asked, verdict)
    cells: dict[frozenset[str], str] = {}
    for off in designs:
        verdict = next((v for asked, part, v in known if off & asked == part), None)
        if verdict is None:
            design = RecordingDesign(off)
            verdict = run_design(attack, design, seed, site_handler, defenses)
            asked = frozenset(design.asked) | BOOT_STATE  # the cell started from that state
            known.append((asked, off & asked, verdict))
        cells[off] = verdict
    return cells, len(known)


@dataclass
class Row:
    attack: str
    plugin: str
    declared: tuple[frozenset[str], ...]
    found: tuple[frozenset[str], ...]  # with every plugin defense off, as declared
    cells: dict[frozenset[str], str]
    found_all: tuple[frozenset[str], ...] = ()  # over every design, plugin defenses included

    @property
    def errors(self) -> int:
        return sum(1 for r in self.cells.values() if r == "error")

    @property
    def matches(self) -> bool:
        return not self.errors and set(self.declared) == set(self.found)

    def to_json(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "plugin": self.plugin,
            "declared": [sorted(s) for s in self.declared],
            "found": [sorted(s) for s in self.found],
            "found_with_plugin_defenses": [sorted(s) for s in self.found_all],
            "matches": self.matches,
            "designs": len(self.cells),
            "breached": sum(1 for r in self.cells.values() if r == "breached"),
            "blocked": sum(1 for r in self.cells.values() if r == "blocked"),
            "errors": self.errors,
            "cells": {
                ",".join(sorted(k)) or "-": v
                for k, v in sorted(self.cells.items(), key=lambda kv: (len(kv[0]), sorted(kv[0])))
            },
        }


_ATTACKS: dict[str, Attack] = {}
_CONTEXT: dict[str, Any] = {"site_handler": None, "defenses": ()}


def _attack(name: str) -> dict[frozenset[str], str]:
    designs = all_designs(_CONTEXT["defenses"])
    return attack_cells(_ATTACKS[name], designs, **_CONTEXT)[0]


def matrix(
    attacks: list[Attack], jobs: int = 2, site_handler=None, defenses: tuple[str, ...] = ()
) -> list[Row]:
    """Run every attack under every design — 2^8 of them, times two for each plugin defense —
    over `jobs` processes. An attack's contract is checked in the designs where the plugin
    defenses are off (the world its author declared against); `found` covers them all."""
    _ATTACKS.clear()
    _ATTACKS.update({a.name: a for a in attacks})
    _CONTEXT.update(site_handler=site_handler, defenses=tuple(defenses))
    work = [a.name for a in attacks]
    if jobs > 1 and len(work) > 1:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs) as pool:
            results = pool.map(_attack, work, chunksize=1)
    else:
        results = [_attack(name) for name in work]
    cells = dict(zip(work, results, strict=True))
    rows = []
    extra = frozenset(defenses)
    for a in attacks:
        breached = [off for off, r in cells[a.name].items() if r == "breached"]
        base = [off - extra for off in breached if extra <= off]
        rows.append(
            Row(
                a.name,
                a.plugin,
                a.breach_sets,
                minimal_sets(base),
                cells[a.name],
                minimal_sets(breached),
            )
        )
    return rows
