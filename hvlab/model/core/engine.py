"""The engine: actors run small programs of operations, interleaved deterministically.

A program is a generator that yields operations (the named tuples of `ops`) and receives each
one's result. One operation is atomic and may
produce several events (a hypercall's entry, validate, dispatch and complete; an intercept
answered by the root). Between operations the scheduler picks the next runnable actor with a
random generator seeded from the run's seed, so the same workload, design and seed always give
the same trace.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, NamedTuple

from hvlab.model.core.events import EventKind
from hvlab.model.core.ops import (  # the operations, named here too: programs import them here
    BeginProbe,
    Call,
    Do,
    EndProbe,
    InjectDriver,
    Leak,
    LoadDriver,
    PlantPage,
    PlantSecret,
    PortIo,
    RawHypercall,
    Read,
    WaitUntil,
    Write,
    WriteMsr,
)

__all__ = [
    "Actor", "BeginProbe", "Call", "Do", "EndProbe", "Handle", "InjectDriver", "Leak",
    "LoadDriver", "PlantPage", "PlantSecret", "PortIo", "RawHypercall", "Read", "Run",
    "WaitUntil", "Write", "WriteMsr", "execute", "plugin_actor", "run", "start",
]  # fmt: skip

# The engine runs any machine that has a store, an event log, `executors` (what each operation
# does there) and `RUNNING` (the state of a VP whose actors may run): the hypervisor's Machine.
Machine = Any
HYPERVISOR = "hypervisor"  # the principal the scheduler's own events are in the name of


Program = Callable[["Actor"], Generator[Any, Any, None]]


class Handle(NamedTuple):
    """What an attack program is given: its name and the partition it acts as — not the
    machine. It acts only by yielding operations."""

    name: str
    partition: str


def plugin_actor(
    name: str, partition: str, program: Callable, m: Machine, plugin: str = "plugin"
) -> Actor:
    """An actor for a plugin's program: it gets a Handle, moves first when it is ready, and runs
    fenced (see guard): what goes wrong in it is an error the oracle reads, not a crash."""
    from hvlab.model.core import guard

    body = guard.program(plugin, name, lambda _actor: program(Handle(name, partition)))
    return Actor(name, partition, body, m, priority=1)


@dataclass
class Actor:
    """An actor: a principal (a partition's kernel, or a component of the root) and its program."""

    name: str
    partition: str
    program: Program
    machine: Machine
    gen: Generator | None = None
    pending: Any = None
    waiting: WaitUntil | None = None
    done: bool = False
    scope: str | None = None
    started: bool = False
    daemon: bool = False  # a service (a VSP, the VMBus server): the run need not wait for it
    priority: int = 0  # among ready actors the highest priority runs first (attackers: 1)
    # the scheduler's notes: is its partition's VP running (None: look again), and is the actor
    # parked — its VP stopped, or its keyed wake-up condition false — until a key it watches is set
    vp_running: bool | None = None
    parked: bool = False

    @property
    def pid(self) -> int:
        return self.machine.pid(self.partition)


def _leak(m: Machine, actor: Actor, op: Leak) -> Any:
    entry = m.store.get(("canary", op.canary))
    return entry[2] if entry else None


def _begin_probe(m: Machine, actor: Actor, op: BeginProbe) -> None:
    m.scope = actor.scope = op.name
    m.emit(
        EventKind.PROBE,
        actor.name,
        "begin",
        detail={"probe": op.name, "description": op.description},
    )


def _end_probe(m: Machine, actor: Actor, op: EndProbe) -> None:
    m.emit(EventKind.PROBE, actor.name, "end", detail={"probe": actor.scope})
    m.scope = actor.scope = None


# The operations that need nothing of the machine but its store and its event log. What the
# others do is the business of the layer they act on: the assembled machine (model.system)
# joins these with the hypervisor's and the root's into its `executors`.
EXECUTORS: dict[type, Callable[[Any, Actor, Any], Any]] = {
    Do: lambda m, actor, op: op.fn(m),
    Leak: _leak,
    BeginProbe: _begin_probe,
    EndProbe: _end_probe,
}


def execute(m: Machine, actor: Actor, op: Any) -> Any:
    """Carry out one operation on the machine, through the machine's table of executors."""
    executors = m.executors
    run_op = executors.get(type(op))
    if run_op is None:  # a subclass of an operation runs as that operation
        run_op = next((f for t, f in executors.items() if isinstance(op, t)), None)
        if run_op is None:
            raise TypeError(f"actor {actor.name} yielded {op!r}, which is not an operation")
    return run_op(m, actor, op)


def run(m: Machine, actors: list[Actor], seed: int, **options) -> None:
    """Run every actor's program to its end (or until none can run) under a seeded scheduler;
    the options are `start`'s."""
    start(m, actors, seed, **options).advance()


def start(
    m: Machine,
    actors: list[Actor],
    seed: int,
    max_ops: int = 5_000_000,
    plant: bool = True,
    trail: Any = None,
) -> Run:
    """A run, not yet under way: `advance` the returned Run to run it (all, or in parts).
    `plant=False` when the machine starts from a state where the lab's canaries already are.
    A `trail`, if given, records what the scheduler did (see `replay.Trail`)."""
    if plant:
        m.plant_lab_canaries()
    if trail is not None:
        trail.start = len(m.events)
    return Run(m, actors, random.Random(f"hvlab-scheduler:{seed}"), max_ops, trail, 0)


class Run:
    """A run under way. `advance()` runs it to its end, where the machine's halt event is
    emitted; `advance(until)` stops early once `until()` holds (asked every CHUNK picks, and
    whenever the scheduler pauses), so a caller can show the start of a run before its end."""

    CHUNK = 64

    def __init__(self, m: Machine, actors: list[Actor], sched, max_ops: int, trail, ops: int):
        self.m, self.actors = m, actors
        self._steps = _schedule(m, actors, sched, max_ops, trail, ops, self.CHUNK)
        self.finished = False

    def advance(self, until: Callable[[], bool] | None = None) -> bool:
        """Run on; True once the run is over."""
        if self.finished:
            return True
        # A run builds a long list of small tuples that all stay alive: the cyclic garbage
        # collector would scan them again and again (a fifth of the engine's time on long
        # runs). Whatever garbage a run leaves is collected once it is over.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for _pause in self._steps:
                if until is not None and until():
                    return False
        finally:
            if collecting:
                gc.enable()
        m = self.m
        m.store.watched, m.store.woken = set(), []  # no scheduler looks at them any more
        m.scope = None
        stuck = sorted(a.name for a in self.actors if not a.done and not a.daemon)
        m.emit(
            EventKind.SCHEDULE,
            HYPERVISOR,
            "halt",
            detail={"unfinished": tuple(stuck)} if stuck else None,
        )
        self.finished = True
        return True


# Tests set this to look at every actor before every operation, parked or not, and to fail when
# a parked one is ready (a key it depends on changed unwatched) or a VP noted running is not.
CHECK_WAKE_UPS = False


def _schedule(
    m: Machine, actors: list[Actor], sched: random.Random, max_ops: int, trail, ops: int, chunk
):
    """The scheduler, as a generator that pauses (yields) every `chunk` picks."""
    if trail is not None:  # the recorder's appends, bound once
        t_actor, t_fed, t_events = trail.actor.append, trail.feeder(), trail.events.append
        t_drawn, t_draw, drawn = trail.drawn.append, trail.draws.append, len(trail.draws)
        t_ops = trail.ops.append
        index = {id(a): i for i, a in enumerate(actors)}
        events = m.events
    data = m.store.data
    running = m.RUNNING
    executors = m.executors
    getrandbits = sched.getrandbits
    check = CHECK_WAKE_UPS
    # The actors that watch each key: those whose partition it names or whose VP state it is,
    # and those whose wake-up condition reads it. When a watched key is set, each of them is
    # unparked: it looks at its VP and asks its condition again. (An actor stays listed after
    # its wait is over: a stray wake-up only asks once more.)
    watchers: dict[tuple, dict[int, Actor]] = {}
    watched = m.store.watched = set()
    woken = m.store.woken = []

    def watch(actor: Actor, keys) -> None:
        watched.update(keys)
        for key in keys:
            watchers.setdefault(key, {})[id(actor)] = actor

    for a in actors:
        a.vp_running, a.parked = None, False
        watch(a, (("pid", a.partition),))
        if a.waiting is not None and a.waiting.keys:  # resumed while waiting
            watch(a, a.waiting.keys)
    active: list[Actor] = []  # the actors neither done nor parked, in their order
    changed = True  # an actor was parked, unparked or finished since `active` was made
    pause_at = ops + chunk
    while ops < max_ops:
        if ops >= pause_at:
            pause_at = ops + chunk
            yield ops
        if woken:
            for key in woken:
                for a in watchers[key].values():
                    a.vp_running = None
                    if a.parked:
                        a.parked, changed = False, True
            woken.clear()
        if changed:
            active = [a for a in actors if not (a.done or a.parked)]
            changed = False
        # The ready actors: not done, their partition's VP running, and not waiting or their
        # condition now holding; of those, the ones of the highest priority. Parked actors
        # cannot be ready, so only the active ones are looked at.
        ready, top = [], 0
        for a in actors if check else active:
            if check and (a.done or (a.parked and _check_parked(a, m, running))):
                continue
            if a.vp_running is None or check:
                vp_key = ("vp", data.get(("pid", a.partition)), 0)
                now = data.get(vp_key) == running
                if check and a.vp_running not in (None, now):
                    raise RuntimeError(f"{a.name}: its VP changed; no key of it was set")
                a.vp_running = now
                watch(a, (vp_key,))
                if not now:  # until its partition's id or VP state is set
                    a.parked = changed = True
                    continue
            wait = a.waiting
            if wait is not None and not wait.cond(m):
                if wait.keys:  # until one of them is set
                    a.parked = changed = True
                continue
            if not ready or a.priority == top:
                top = a.priority
                ready.append(a)
            elif a.priority > top:  # among ready actors the highest priority runs first
                top = a.priority
                ready = [a]
        if not ready:
            break
        n = len(ready)
        if n == 1:
            actor = ready[0]
        else:  # random.Random.choice, written out: one less call, and fixed against its changes
            k = n.bit_length()
            r = getrandbits(k)
            if trail is not None:
                t_draw(k)
                drawn += 1
            while r >= n:
                r = getrandbits(k)
                if trail is not None:
                    t_draw(k)
                    drawn += 1
            actor = ready[r]
        if trail is not None:
            t_actor(index[id(actor)])
        m.scope = actor.scope
        if not actor.started:
            actor.started = True
            actor.gen = actor.program(actor)
            m.emit(EventKind.SCHEDULE, actor.name, "start", path=(_node(actor),))
        actor.waiting = None
        try:
            op = actor.gen.send(actor.pending)
        except StopIteration:
            actor.done = changed = True
            m.emit(EventKind.SCHEDULE, actor.name, "end", path=(_node(actor),))
            if trail is not None:
                t_fed(actor.pending)
                t_events(len(events))
                t_drawn(drawn)
                t_ops(m.op)
            continue
        ops += 1
        kind = type(op)
        if kind is not Do and isinstance(op, WaitUntil):
            actor.waiting, actor.pending = op, None
            if op.keys:
                watch(actor, op.keys)
        else:
            m.op += 1
            # Do is most operations of the root's services: run it here, without the dispatch
            if kind is Do:
                actor.pending = op.fn(m)
            else:
                run_op = executors.get(kind)
                actor.pending = run_op(m, actor, op) if run_op else execute(m, actor, op)
        if trail is not None:
            t_fed(actor.pending)
            t_events(len(events))
            t_drawn(drawn)
            t_ops(m.op)


def _check_parked(a: Actor, m: Machine, running: int) -> bool:
    """CHECK_WAKE_UPS: a parked actor must not be ready (returns True: it stays parked)."""
    data = m.store.data
    if data.get(("vp", data.get(("pid", a.partition)), 0)) != running:
        return True
    if a.waiting is not None and not a.waiting.cond(m):
        return True
    what = f"'{a.waiting.label}' holds" if a.waiting is not None else "its VP runs"
    raise RuntimeError(f"{a.name}: {what}; no key of it was set")


def _node(actor: Actor) -> str:
    return actor.name if "." in actor.name else f"{actor.name}.kernel"
