"""The lab session: build a run from (workload, design, seed), then move through it in time.

A run is computed once, start to end. Every event carries the store changes it made, so moving
the cursor applies or reverts them; full snapshots every `checkpoint_every` events bound the
work of a far jump. Nothing is re-executed to travel in time, and stepping back restores all
state, plugin state included once plugins keep theirs in the store.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from hvlab.model import MODEL_VERSION
from hvlab.model.core import engine, guard, replay
from hvlab.model.core.attacks import Attack
from hvlab.model.core.canaries import Outcome, assess
from hvlab.model.core.events import Event, EventLog, key_label
from hvlab.model.core.protections import Design
from hvlab.model.core.store import Change, Store, state_digest
from hvlab.model.scenarios import moves as moves_
from hvlab.model.scenarios.workloads import WORKLOADS, Workload
from hvlab.model.system import Machine


class UnknownWorkloadError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where two runs first behave differently — the first event that reads differently — the
    fields that differ there, and the protection that made the difference."""

    step: int
    protection: str | None
    a: Event | None
    b: Event | None
    fields: tuple[tuple[str, str, str], ...] = ()  # (field, in run a, in run b)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "protection": self.protection,
            "a": self.a.to_json() if self.a else None,
            "b": self.b.to_json() if self.b else None,
            "fields": [list(f) for f in self.fields],
        }


SHOWN_FIELDS = ("actor", "kind", "name", "phase", "status", "protection", "path", "detail")


def _field_text(ev: Event, name: str) -> str:
    value = getattr(ev, name)
    if name == "status":
        return getattr(value, "label", "—") if value is not None else "—"
    if name == "path":
        return " → ".join(value) or "—"
    if name == "detail":
        return ", ".join(f"{k}={v}" for k, v in value) or "—"
    return str(getattr(value, "value", value) or "—")


def differing_fields(a: Event | None, b: Event | None) -> tuple[tuple[str, str, str], ...]:
    if a is None or b is None:
        return (("event", "(run ended)" if a is None else a.name, "(run ended)" if b is None
                 else b.name),)  # fmt: skip
    return tuple(
        (f, _field_text(a, f), _field_text(b, f))
        for f in SHOWN_FIELDS
        if getattr(a, f) != getattr(b, f)
    )


class StateView:
    """Read-only queries over the machine state at one step."""

    def __init__(self, data: Mapping) -> None:
        self.data = data

    def get(self, key: tuple, default: Any = None) -> Any:
        return self.data.get(key, default)

    def partitions(self) -> dict[int, str]:
        return {pid: self.data[("part", pid, "name")] for pid in self.data.get(("parts",), ())}

    def second_level_map(self, pid: int) -> dict[int, tuple[int, str]]:
        return dict(
            sorted((k[2], v) for k, v in self.data.items() if k[0] == "slat" and k[1] == pid)
        )

    def frame_owner(self, pfn: int) -> str | None:
        entry = self.data.get(("frame", pfn))
        return entry[0] if entry else None

    def digest(self) -> str:
        return state_digest(dict(self.data))


def workload_names() -> list[str]:
    return list(WORKLOADS)


class Lab:
    """One run of a workload under a design, with a cursor that moves through its events."""

    def __init__(
        self,
        workload: str = "boot",
        design: Design | None = None,
        seed: int = 0,
        *,
        params: dict[str, Any] | None = None,
        checkpoint_every: int | None = None,
        salts: dict[str, int] | None = None,
        attack: Attack | None = None,
        workloads: dict[str, Workload] | None = None,
        site_handler: Callable | None = None,
        slot_handler: Callable | None = None,
        defenses: tuple[str, ...] = (),
        moves: tuple[tuple[int, str], ...] = (),
        canaries: tuple = (),
        fork: Lab | None = None,
        lazy: bool = False,
        record: bool = False,
    ) -> None:
        """`moves` are the learner's (step, line): each runs after event `step` (see
        model.scenarios.moves). `fork`, a lab of the same run with all but the last of these
        moves, lets the run start from its record instead of from power-on: no operation up to
        the last move's step is executed again. `lazy`: compute only until the last move has
        its reply; the rest of the run when something needs it (`last`, `outcome`, `digest`,
        going past what is computed) or on `finish()`. `events` holds what is computed so far.
        `record`: keep the scheduler's record (a Trail), so that a later lab can fork from this
        one — what a session's runs need, not a one-off run (it costs the engine's hot path)."""
        workloads = workloads or WORKLOADS
        if workload not in workloads:
            raise UnknownWorkloadError(
                f"unknown workload '{workload}' (valid: {', '.join(workloads)})"
            )
        self.workload = workload
        self.attack = attack
        self.design = design or Design.preset("hyperv")
        self.seed = seed
        self.params = dict(params or {})
        self._every = checkpoint_every
        # `salts` vary named secrets and nothing else (the noninterference tests use it).
        self.moves = tuple((int(step), moves_.parse(line)) for step, line in moves)
        self._salts = dict(salts or {})
        self._defenses = tuple(defenses)
        forking = fork is not None and self._can_fork(fork)
        # a fork starts from the base's power-on state, which is this run's
        initial = fork._machine.initial if forking else None
        machine = Machine(self.design, seed, salts=salts, state=initial)
        machine.site_handler = site_handler
        machine.slot_handler = slot_handler  # a learner's check in a slot (hvlab.exercises)
        machine.defenses = tuple(defenses)
        machine.plugin_canaries = tuple(canaries)
        self._checkpoints: dict[int, dict] = {-1: machine.initial}
        self._checkpoint_steps = [-1]
        machine.checkpoint = self._checkpoint
        machine.checkpoint_at = self._interval - 1
        self._machine = machine
        chosen = workloads[workload]
        if chosen.plugin:
            actors = guard.workload_actors(chosen, machine, self.params)
        else:
            actors = chosen.build(machine, **self.params)
        if attack is not None:
            # Attackers move first when they can: the same rule the matrix runs by.
            actors += [
                engine.plugin_actor(a.name, a.partition, a.program, machine, attack.plugin)
                for a in guard.actors_of(attack, machine)
            ]
        ahead = list(actors)
        for number, (step, move) in enumerate(self.moves, 1):
            actors.append(moves_.actor(move, number, machine, step, ahead))
        self._trail = replay.Trail() if record or forking else None
        self.replayed = 0  # picks taken from `fork`'s record instead of executed
        if forking:
            step = self.moves[-1][0]
            self.replayed, self._running = replay.resume(
                machine,
                actors,
                seed,
                fork._trail,
                fork.events,
                step,
                ahead,
                self._trail,
                before_live=lambda count: self._adopt_checkpoints(fork, count),
            )
        else:
            self._running = engine.start(machine, actors, seed, trail=self._trail)  # None: none
        self.events: EventLog = machine.events
        self._outcome: Outcome | None = None
        self._digest: str | None = None
        self.on_finish: Callable[[], None] | None = None  # called once a lazy lab finishes
        last_move = actors[-1] if self.moves else None
        if lazy and last_move is not None:
            # enough to show the last move's reply; the rest when it is asked for (`finish`)
            self._running.advance(lambda: last_move.done)
            if not self._running.finished:
                self._store = Store(machine.store.data)
                self._store.revert(machine.store.pending)  # changes no event holds yet
                self.cursor = len(self.events) - 1
                return
        self._running.advance()
        self._sealed()
        self._store = Store(machine.store.data)  # the live store sits at the last event
        self.cursor = len(self.events) - 1

    def _sealed(self) -> None:
        """The run is over: no more snapshots, the event log drops its sharing tables, and
        whoever waited for the end hears of it."""
        self._machine.checkpoint_at = -1
        self._machine.stop_sharing()
        done, self.on_finish = self.on_finish, None
        if done is not None:
            done()

    @property
    def finished(self) -> bool:
        """False while a lazy lab has computed only the start of its run (see `finish`)."""
        return self._running.finished

    def finish(self) -> None:
        """Compute the rest of the run; the cursor stays where it is."""
        if self._running.finished:
            return
        cursor, store = self.cursor, self._store
        self._running.advance()
        self._store, self.cursor = store, cursor
        self._sealed()

    def _can_fork(self, base: Lab) -> bool:
        """Is `base` this run with one move fewer, recorded? (Its plugins must be this run's:
        the caller's to know — the session forks only its own runs.)"""
        same = (
            base.workload == self.workload
            and base.design == self.design
            and base.seed == self.seed
            and base.params == self.params
            and base._salts == self._salts
            and base.attack is self.attack
            and base._every == self._every
            and base._defenses == self._defenses
            and base.moves == self.moves[:-1]
        )
        return same and base._trail is not None and len(base._trail) > 0

    def _adopt_checkpoints(self, base: Lab, count: int) -> None:
        """The base's snapshots of its first `count` events hold here too: those are ours."""
        keep = [s for s in base._checkpoint_steps if s < count]
        self._checkpoint_steps = keep
        self._checkpoints = {s: base._checkpoints[s] for s in keep}
        self._machine.checkpoint_at = keep[-1] + self._interval

    @property
    def _interval(self) -> int:
        return self._every or 1024

    def _checkpoint(self, step: int) -> None:
        """The machine calls this after every `_interval` events: keep a snapshot."""
        self._checkpoints[step] = self._machine.store.snapshot()
        self._checkpoint_steps.append(step)
        self._machine.checkpoint_at = step + self._interval

    # -- time travel ------------------------------------------------------------------------
    @property
    def last(self) -> int:
        self.finish()
        return len(self.events) - 1

    @property
    def known_last(self) -> int:
        """The last event computed so far (`last` once the run is finished)."""
        return len(self.events) - 1

    def goto(self, n: int) -> int:
        """Move the cursor so that events 0..n have happened (-1: none). Returns the cursor."""
        n = max(-1, min(n, self.known_last if n <= self.known_last else self.last))
        if n == self.cursor:
            return n
        base = self._checkpoint_steps[bisect_right(self._checkpoint_steps, n) - 1]
        if abs(n - self.cursor) > n - base:
            self._store = Store(self._checkpoints[base])
            self.cursor = base
        changes = self.events.changes
        if n > self.cursor:
            for i in range(self.cursor + 1, n + 1):
                self._store.apply(changes(i))
        else:
            for i in range(self.cursor, n, -1):
                self._store.revert(changes(i))
        self.cursor = n
        return n

    def step(self, count: int = 1) -> int:
        return self.goto(self.cursor + count)

    def back(self, count: int = 1) -> int:
        return self.goto(self.cursor - count)

    def rewind(self) -> int:
        return self.goto(-1)

    def run(self) -> Outcome:
        """Go to the end of the run and return the oracle's outcome."""
        self.goto(self.last)
        return self.outcome

    @property
    def state(self) -> StateView:
        """The state at the cursor (a live, read-only view)."""
        return StateView(MappingProxyType(self._store.data))

    @property
    def event(self) -> Event | None:
        return self.events[self.cursor] if self.cursor >= 0 else None

    def state_at(self, n: int) -> StateView:
        """A copy of the state after event n, without moving the cursor."""
        here = self.cursor
        self.goto(n)
        view = StateView(dict(self._store.data))
        self.goto(here)
        return view

    def diff(self, n: int) -> list[tuple[str, Any, Any]]:
        """What event n changed: (key, old, new), with None for absent."""
        changes: tuple[Change, ...] = self.events.changes(n)
        return [(key_label(k), old, new) for k, old, new in changes]

    # -- results ----------------------------------------------------------------------------
    @property
    def outcome(self) -> Outcome:
        self.finish()
        if self._outcome is None:
            self._outcome = assess(self.events)
        return self._outcome

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the whole trace."""
        self.finish()
        if self._digest is None:
            h = hashlib.sha256()
            for ev in self.events:
                h.update(canonical(ev.to_json()).encode())
                h.update(b"\n")
            self._digest = h.hexdigest()
        return self._digest

    def compare(self, other: Lab) -> Divergence | None:
        """The first step where the two runs behave differently — an event that reads
        differently (who, what, status, decision, path, detail); a difference in time or in
        state alone shows at a later event — or None if they read the same throughout."""
        self.finish()
        other.finish()
        differing = self.design.off ^ other.design.off
        mine, theirs = self.events, other.events
        for i in range(max(len(mine), len(theirs))):
            if i < len(mine) and i < len(theirs) and mine.shape(i) == theirs.shape(i):
                continue
            a = mine[i] if i < len(mine) else None
            b = theirs[i] if i < len(theirs) else None
            return Divergence(i, _decider(a, b, differing), a, b, differing_fields(a, b))
        return None

    def to_json(self, *, events: bool = True) -> dict[str, Any]:
        self.finish()
        out: dict[str, Any] = {
            "model_version": MODEL_VERSION,
            "workload": self.workload,
            "attack": self.attack.name if self.attack else None,
            "design": self.design.to_json(),
            "seed": self.seed,
            "event_count": len(self.events),
        }
        if events:
            out["events"] = [ev.to_json() for ev in self.events]
        out["outcome"] = self.outcome.to_json()
        out["digest"] = self.digest
        return out


def _decider(a: Event | None, b: Event | None, differing: frozenset[str]) -> str | None:
    for ev in (a, b):
        if ev is not None and ev.protection in differing:
            return ev.protection
    for ev in (a, b):
        if ev is not None and ev.protection is not None:
            return ev.protection
    if len(differing) == 1:
        return next(iter(differing))
    return None


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
