"""Replay: drive a run's programs to a point of a recorded run without executing them again.

The engine records what its scheduler did (`Trail`); `resume` feeds each program the results it
got then, applies each pick's recorded store changes, and schedules live from there. A move that
forks a run part-way so costs the run after the fork, not the run before it.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable

from hvlab.model.core import engine
from hvlab.model.core.engine import Actor, BeginProbe, Do, EndProbe, Machine, WaitUntil
from hvlab.model.core.events import EventLog


class Trail:
    """What a run's scheduler did, pick by pick: which actor it picked, the result it fed that
    actor's program afterwards, how many events the machine had then, and the random draws it
    made. Enough to drive the same programs to any pick again without executing one operation
    (`resume`), which is how a move forks a run part-way through."""

    __slots__ = ("actor", "drawn", "draws", "events", "fed", "ops", "seen", "start", "values")

    def __init__(self) -> None:
        self.actor = array("i")  # per pick: the actor's index in the run's list
        self.fed = array("i")  # per pick: what its program receives next, as an index in values
        self.values: list = []  # the results fed, each once (equal results share an entry)
        self.seen: dict = {}  # (type, result) → its index in values, for hashable results
        self.events = array("i")  # per pick: len(events) after it
        self.ops = array("i")  # per pick: the machine's operation count after it
        self.drawn = array("i")  # per pick: random draws made so far
        self.draws = array("b")  # every draw's bit width, in order
        self.start = 0  # the events before the first pick (the lab's canaries)

    def __len__(self) -> int:
        return len(self.actor)

    def feeder(self) -> Callable[[object], None]:
        """The recorder of what a program is fed: a million picks hold a few thousand distinct
        results (a success, the same bytes read again), so each is kept once."""
        seen, values, append = self.seen, self.values, self.fed.append

        def feed(value) -> None:
            try:
                key = (value.__class__, value)
                index = seen.get(key)
            except TypeError:  # unhashable: kept as it is
                key = index = None
            if index is None:
                index = len(values)
                values.append(value)
                if key is not None:
                    seen[key] = index
            append(index)

        return feed

    def prefix(self, picks: int) -> Trail:
        t = Trail()
        t.actor, t.fed, t.events = self.actor[:picks], self.fed[:picks], self.events[:picks]
        t.values, t.seen = list(self.values), dict(self.seen)
        t.ops = self.ops[:picks]
        t.drawn = self.drawn[:picks]
        t.draws = self.draws[: self.drawn[picks - 1]] if picks else array("b")
        t.start = self.start
        return t


def resume(
    m: Machine,
    actors: list[Actor],
    seed: int,
    recorded: Trail,
    events: EventLog,
    step: int,
    ahead: list[Actor],
    trail: Trail,
    max_ops: int = 5_000_000,
    before_live: Callable[[int], None] = lambda count: None,
) -> tuple[int, engine.Run]:
    """Run as `run` would, but first take the picks of a recorded run of the same programs
        (`recorded`, whose events are `events`) on a fresh machine, until `until(events so far)`
        holds: each program is fed the results it got then and the store takes each pick's recorded
        changes; no operation is executed again. Returns (the picks taken from the record, the Run
    that schedules live from there: `advance` it). Actors after the
        recorded run's own may be appended to `actors`; `until` must hold by the time one of them
        would be ready before then. `before_live(events so far)` is called before the live part."""
    store, changes = m.store, events.changes
    for i in range(recorded.start):
        store.apply(changes(i))
    count, ops, picks = recorded.start, 0, 0
    over = all(a.done or a.daemon for a in ahead)  # asked again only when one finishes
    while picks < len(recorded) and count <= step and not over:
        actor = actors[recorded.actor[picks]]
        if not actor.started:
            actor.started = True
            actor.gen = actor.program(actor)
        actor.waiting = None
        try:
            op = actor.gen.send(actor.pending)
        except StopIteration:
            actor.done = True
            over = all(a.done or a.daemon for a in ahead)
        else:
            ops += 1
            if isinstance(op, WaitUntil) and type(op) is not Do:
                actor.waiting = op
            elif isinstance(op, BeginProbe):
                actor.scope = op.name
            elif isinstance(op, EndProbe):
                actor.scope = None
        actor.pending = recorded.values[recorded.fed[picks]]
        upto = recorded.events[picks]
        for n in range(count, upto):
            store.apply(changes(n))
        count = upto
        picks += 1
    store.pending.clear()
    m.events = events.prefix(count)
    m.time = events[count - 1].time if count else 0
    m.op = recorded.ops[picks - 1] if picks else 0
    sched = random.Random(f"hvlab-scheduler:{seed}")
    for width in recorded.draws[: recorded.drawn[picks - 1] if picks else 0]:
        sched.getrandbits(width)
    head = recorded.prefix(picks)
    trail.actor, trail.fed, trail.events = head.actor, head.fed, head.events
    trail.values, trail.seen = head.values, head.seen
    trail.drawn, trail.draws, trail.start = head.drawn, head.draws, head.start
    trail.ops = head.ops
    before_live(count)
    return picks, engine.Run(m, actors, sched, max_ops, trail, ops)
