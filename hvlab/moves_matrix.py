"""The matrix for the learner's own moves: the same moves, at the same steps, under every design.

`hvlab matrix` judges the attacks plugins wrote; this judges what a learner typed on the `:`
line, with both of the matrix's shortcuts (hvlab/matrix.py): a design that agrees with an
earlier run's on every switch it asked about gets that run's verdict; and moves made once the
workload's own programs are done run from the state boot leaves, after its continuation. Moves
made mid-run are full runs of the spec (their steps count from power-on).

The verdict on a design is the worst over the moves: breached, then unavailable (both get
through), then error, blocked, done. What the learner is told: the verdict under their design,
the smallest sets of protections whose being off lets the moves through, and — where they got
through — which single protection, switched back on, would have stopped them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hvlab.lab import Lab
from hvlab.matrix import (
    BOOT_STATE,
    THROUGH,
    after_boot,
    all_designs,
    booted_machine,
    by_asked_switches,
    design_text,
)
from hvlab.model.core import engine
from hvlab.model.core.attacks import minimal_sets
from hvlab.model.core.canaries import ProbeOutcome, assess
from hvlab.model.scenarios import moves as moves_
from hvlab.model.scenarios.moves import AT_END
from hvlab.model.scenarios.workloads import CONTINUATIONS

ORDER = ("breached", "unavailable", "error", "blocked", "done")


@dataclass(frozen=True)
class Cell:
    """One design's verdict on the moves, the move that decided it and the oracle's reason."""

    result: str
    move: int  # the move whose verdict this is (1-based)
    protections: tuple[str, ...] = ()  # the protections that refused it (blocked)
    reason: str = ""


def worst(moves: tuple[ProbeOutcome, ...]) -> Cell:
    if not moves:
        return Cell("error", 0, reason="no move ran")
    ranked = sorted(enumerate(moves, 1), key=lambda nm: ORDER.index(nm[1].result))
    number, verdict = ranked[0]
    refused = tuple(dict.fromkeys(p for _n, m in ranked for p in m.blocked_by))
    return Cell(verdict.result, number, refused, _why(verdict))


def _why(v: ProbeOutcome) -> str:
    if v.result == "breached":
        how = f" ({v.reason})" if v.reason else ""
        return f"{v.canary or 'a secret'} reached {v.principal or 'the attacker'}{how}"
    if v.result == "blocked":
        by = f"refused by {v.protection}" if v.protection else "refused by the architecture"
        return by + (f": {v.reason}" if v.reason and v.reason != v.protection else "")
    if v.result == "done":
        return "nothing refused them, and no secret moved"
    return v.reason


@dataclass
class Judgement:
    """The moves under every design, and what that says about the learner's own."""

    moves: tuple[tuple[int, str], ...]
    design: frozenset[str]  # the learner's design: the protections off
    cells: dict[frozenset[str], Cell]
    runs: int
    through: tuple[frozenset[str], ...] = field(default=())  # minimal sets off that let them in

    @property
    def mine(self) -> Cell:
        return self.cells[self.design]

    def stoppers(self) -> tuple[str, ...]:
        """Protections off in the learner's design that, each switched back on alone, stop the
        moves (empty when they did not get through, or no single one does)."""
        if self.mine.result not in THROUGH:
            return ()
        return tuple(
            p for p in sorted(self.design) if self.cells[self.design - {p}].result not in THROUGH
        )

    def deciders(self) -> tuple[str, ...]:
        """Protections on in the learner's design that, each switched off alone, let the moves
        through (they are what stopped them)."""
        if self.mine.result in THROUGH:
            return ()
        on = sorted(set(_ids(self.cells)) - self.design)
        return tuple(p for p in on if self.cells[self.design | {p}].result in THROUGH)

    def lines(self) -> list[str]:
        """The judgement in words, for the terminal and the lab's dialog."""
        mine = self.mine
        design = design_text(self.design)
        count = len(self.moves)
        what = f"your {count} move{'s' if count > 1 else ''}"
        out = [f"{what} under {design}: {mine.result} (move {mine.move})"]
        if mine.reason:
            out.append(f"  the oracle: {mine.reason}")
        hits = sum(c.result in THROUGH for c in self.cells.values())
        out.append(f"got through in {hits} of {len(self.cells)} designs ({self.runs} runs)")
        if frozenset() in self.through:
            out.append(
                "they get through under every design, every protection on included: no switch "
                "here stops them"
            )
            return out
        if self.through:
            sets = " or ".join("{" + ", ".join(sorted(s)) + "}" for s in self.through[:6])
            more = len(self.through) - 6
            out.append(f"they get through when these are off: {sets}")
            if more > 0:
                out.append(f"  … and {more} more set{'s' if more > 1 else ''}")
        elif hits == 0:
            out.append("no design lets them through: every run refused or ignored them")
        if mine.result in THROUGH:
            stop = self.stoppers()
            if stop:
                out.append(f"switched back on, each of these would have stopped them: {_and(stop)}")
            else:
                out.append("no single protection switched back on stops them: see the sets above")
        else:
            decide = self.deciders()
            if decide:
                out.append(f"what stopped them: {_and(decide)} (off alone, they get through)")
            elif mine.protections:
                out.append(
                    f"refused by {_and(mine.protections)}; no one protection off alone lets "
                    "them through"
                )
        return out

    def to_json(self) -> dict:
        return {
            "moves": [{"step": s, "line": line} for s, line in self.moves],
            "design_off": sorted(self.design),
            "result": self.mine.result,
            "decided_by_move": self.mine.move,
            "reason": self.mine.reason,
            "designs": len(self.cells),
            "runs": self.runs,
            "through_when_off": [sorted(s) for s in self.through],
            "would_stop": list(self.stoppers()),
            "stopped_by": list(self.deciders()),
        }


def _ids(cells: dict[frozenset[str], Cell]) -> frozenset[str]:
    return frozenset().union(*cells)


def _and(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def judge_moves(
    workload: str,
    moves: tuple[tuple[int, str], ...],
    design: frozenset[str] = frozenset(),
    seed: int = 0,
    *,
    attack=None,
    workloads=None,
    site_handler=None,
    defenses: tuple[str, ...] = (),
    canaries: tuple = (),
    slot_handler=None,
    jobs: int = 1,
    at_end: bool | None = None,
) -> Judgement:
    """Run `moves` under every design (512 with the lab's protections, twice that for each
    plugin defense) and judge them. `jobs` > 1 splits the designs over processes (forked: not
    from a program with threads). Raises the Lab's errors (an unknown workload, a move that
    does not parse). `at_end`: every move is made once the workload's own programs are done
    (default: when every step is AT_END), so each design's run can start from the state boot
    leaves, as the matrix's do."""
    designs = all_designs(defenses)
    if at_end is None:
        at_end = all(step == AT_END for step, _line in moves)
    run = dict(
        workload=workload, moves=tuple(moves), seed=seed, attack=attack, workloads=workloads,
        site_handler=site_handler, defenses=defenses, canaries=canaries, slot_handler=slot_handler,
        after_boot=at_end and (workload == "boot" or workload in CONTINUATIONS),
    )  # fmt: skip
    if jobs > 1:
        import multiprocessing

        # halves that differ in one switch share no run: each half finds its own shortcuts
        pivot = sorted(_ids({d: None for d in designs}))[0]
        halves = [[d for d in designs if pivot in d], [d for d in designs if pivot not in d]]
        _WORK.update(run)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            parts = pool.map(_cells, halves, chunksize=1)
        cells = {k: v for part, _n in parts for k, v in part.items()}
        runs = sum(n for _part, n in parts)
    else:
        cells, runs = _cells(designs, **run)
    through = minimal_sets([off for off, c in cells.items() if c.result in THROUGH])
    return Judgement(tuple(moves), frozenset(design), cells, runs, tuple(through))


def _after_boot(design, run: dict) -> Cell:
    """The moves under `design`, from the state boot leaves (the matrix's shortcut): for moves
    made once the workload's own programs are done, which then run after its continuation."""
    m = booted_machine(
        design, run["seed"], run["site_handler"], run["defenses"], run["canaries"],
        run["slot_handler"],
    )  # fmt: skip
    actors = after_boot(m, run["workload"], run["attack"])
    ahead = list(actors)
    for number, (_step, line) in enumerate(run["moves"], 1):
        actors.append(moves_.actor(moves_.parse(line), number, m, AT_END, ahead))
    engine.run(m, actors, run["seed"], plant=False)
    return worst(assess(m.events).moves)


def _full_run(design, run: dict) -> Cell:
    """The moves under `design`, in a run from power-on: moves made mid-run."""
    lab = Lab(
        run["workload"], design, run["seed"], attack=run["attack"], workloads=run["workloads"],
        site_handler=run["site_handler"], defenses=run["defenses"], canaries=run["canaries"],
        slot_handler=run["slot_handler"], moves=run["moves"],
    )  # fmt: skip
    return worst(lab.outcome.moves)


_WORK: dict = {}  # what a forked worker runs: set before the pool forks


def _cells(designs, **run) -> tuple[dict[frozenset[str], Cell], int]:
    run = run or _WORK
    if run["after_boot"]:  # runs from the booted state: its switches count as asked
        return by_asked_switches(designs, lambda d: _after_boot(d, run), BOOT_STATE)
    return by_asked_switches(designs, lambda d: _full_run(d, run))
