"""What the engine runs on a plugin's behalf runs fenced: its programs, their wake-up conditions,
the actors an attack lists.

A program that raises, yields something that is not an operation, yields `Do` (the model's own
escape hatch: plugins act only through the operations of `hvlab.api`), asks a condition that
raises or writes, or overruns its budget does not end the run with a traceback and cannot forge
a verdict: its actor stops, a `plugin-error` event names the plugin, the program, the step and
the problem, and the oracle's verdict on the run is `error`. The rest of the machine runs on.

The budget, per plugin actor and run: BUDGET_OPS operations, and BUDGET_SECONDS seconds spent
in its code and in the model carrying out its operations (a loop that never yields is stopped
by a trace function, in any thread). A real attack takes tens of operations and milliseconds.
A plugin's conditions see a read-only view of the machine (`MachineView`).

This is a fence against mistakes and against forging the oracle through the API. In-process
Python is not a sandbox against an author set on getting around it (docs/plugins.md says so).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from types import MappingProxyType
from typing import Any

from hvlab.model.core import ops
from hvlab.model.core.events import PLUGIN_ERROR, EventKind
from hvlab.model.core.ops import Do, WaitUntil

BUDGET_OPS = 50_000
BUDGET_SECONDS = 5.0

# what a plugin's program may yield: the operations (Do only when the model's helpers made it)
PLUGIN_OPS = tuple(
    v
    for v in vars(ops).values()
    if isinstance(v, type) and issubclass(v, tuple) and v.__module__ == ops.__name__
)


class PluginTimeout(BaseException):
    """Raised inside a plugin's code when its time budget is spent (a BaseException: the
    plugin's own `except Exception` does not swallow it)."""


def model_owned(fn: Any) -> bool:
    """Code of the model itself (a helper of hvlab.api such as `disk_io`, or `children_booted`),
    trusted as the model is."""
    module = getattr(fn, "__module__", None) or ""
    return module.startswith("hvlab.model.")


class StoreView:
    """The store, to read: `get`, `in`, `data` (a read-only mapping). No `set`."""

    __slots__ = ("data", "get")

    def __init__(self, data: dict) -> None:
        object.__setattr__(self, "data", MappingProxyType(data))
        object.__setattr__(self, "get", data.get)

    def __contains__(self, key) -> bool:
        return key in self.data

    def __setattr__(self, name, value) -> None:
        raise AttributeError("the machine is read-only in a condition")


class MachineView:
    """What a plugin's wake-up condition is given: the store to read and partitions by name."""

    __slots__ = ("_pid", "store")

    def __init__(self, m) -> None:
        object.__setattr__(self, "store", StoreView(m.store.data))
        object.__setattr__(self, "_pid", m.pid)

    def pid(self, name: str) -> int:
        return self._pid(name)

    def __setattr__(self, name, value) -> None:
        raise AttributeError("the machine is read-only in a condition")


class Budget:
    """One plugin actor's account: operations taken, seconds spent in its code."""

    __slots__ = ("limit", "ops", "problem", "seconds")

    def __init__(self, limit: float = BUDGET_SECONDS) -> None:
        self.ops = 0
        self.seconds = 0.0
        self.limit = limit  # seconds in all
        self.problem: str | None = None

    def call(self, fn: Callable, *args):
        """`fn(*args)` under what is left of the time budget."""
        left = self.limit - self.seconds
        started = time.monotonic()
        deadline = started + left
        previous = sys.gettrace()

        def local(frame, event, arg):
            if time.monotonic() > deadline:
                raise PluginTimeout
            return local

        def tracer(frame, event, arg):
            return local

        sys.settrace(tracer)
        try:
            return fn(*args)
        finally:
            sys.settrace(previous)
            self.seconds += time.monotonic() - started


def describe(exc: BaseException) -> str:
    if isinstance(exc, PluginTimeout):
        return f"ran past its budget of {BUDGET_SECONDS:g} s"
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    return f"raised {text}"


def fail(m, actor_name: str, plugin: str, program: str, problem: str) -> None:
    """The plugin's actor stops here; the event says why and the oracle reads it."""
    m.emit(
        EventKind.SCHEDULE,
        actor_name,
        PLUGIN_ERROR,
        detail={"plugin": plugin, "program": program, "problem": problem},
    )


def check_op(op: Any) -> str | None:
    """Why a plugin may not yield `op` (None: it may)."""
    if not isinstance(op, PLUGIN_OPS):
        shown = repr(op)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return f"yielded {shown}, which is not an operation (see hvlab.api)"
    if isinstance(op, Do) and not model_owned(op.fn):
        return "yielded Do, which plugins may not use: act through the operations of hvlab.api"
    return None


def sealed(cond: Callable, budget: Budget, problem: list) -> Callable:
    """A plugin's condition, asked with a read-only view and under the budget. One that raises
    holds (so its actor wakes up and stops) and leaves its problem in `problem`."""

    def ask(m) -> bool:
        if problem:
            return True
        try:
            return bool(budget.call(cond, MachineView(m)))
        except KeyboardInterrupt:  # the user's Ctrl-C, not the plugin's doing
            raise
        except BaseException as exc:
            problem.append(f"its condition {describe(exc)}")
            return True

    return ask


def program(plugin: str, name: str, body: Callable[[Any], Any]) -> Callable:
    """The engine's program for a plugin's: `body(actor)` makes the plugin's generator."""

    def run(actor):
        m = actor.machine
        budget = Budget()
        problem: list[str] = []
        try:
            gen = budget.call(body, actor)
        except KeyboardInterrupt:  # the user's Ctrl-C, not the plugin's doing
            raise
        except BaseException as exc:
            fail(m, actor.name, plugin, name, f"{describe(exc)} when started")
            return
        if not hasattr(gen, "send"):
            fail(m, actor.name, plugin, name, "is not a generator: its program must yield")
            return
        value = None
        while True:
            try:
                op = budget.call(gen.send, value)
            except StopIteration:
                return
            except KeyboardInterrupt:  # the user's Ctrl-C, not the plugin's doing
                raise
            except BaseException as exc:
                fail(m, actor.name, plugin, name, describe(exc))
                return
            budget.ops += 1
            bad = check_op(op)
            if bad is None and budget.ops > BUDGET_OPS:
                bad = f"took more than {BUDGET_OPS:,} operations, its budget for a run"
            if bad is None and budget.seconds > BUDGET_SECONDS:
                bad = describe(PluginTimeout())
            if bad is not None:
                fail(m, actor.name, plugin, name, bad)
                gen.close()
                return
            if isinstance(op, WaitUntil):
                if not model_owned(op.cond):
                    op = WaitUntil(sealed(op.cond, budget, problem), op.label, op.keys)
            elif not isinstance(op, Do):  # the model carries it out; what it raises is the op's
                op = Do(partial(_carry_out, actor, op, budget, problem), type(op).__name__)
            value = yield op
            if problem:
                fail(m, actor.name, plugin, name, problem[0])
                return

    return run


def _carry_out(actor, op, budget: Budget, problem: list, m) -> Any:
    """Run a plugin's operation as the engine would; an argument the model cannot take (a
    string for an address, a length out of range) is the plugin's error, not a crash."""
    executors = m.executors
    run_op = executors.get(type(op))
    if run_op is None:
        run_op = next(f for t, f in executors.items() if isinstance(op, t))
    started = time.monotonic()
    try:
        return run_op(m, actor, op)
    except Exception as exc:
        problem.append(
            f"yielded {type(op).__name__} that the model could not carry out: "
            f"{type(exc).__name__}: {exc}"
        )
        return None
    finally:
        budget.seconds += time.monotonic() - started


def workload_actors(workload, m, params: dict) -> list:
    """A plugin's workload: its builder and its own programs fenced (the model's services it
    reuses, such as `boot`, run as the model's). A builder that fails is a plugin-error event
    and no actors."""
    budget = Budget()
    before = dict(m.store.data)
    try:
        actors = list(budget.call(lambda: workload.build(m, **params)))
    except KeyboardInterrupt:  # the user's Ctrl-C, not the plugin's doing
        raise
    except BaseException as exc:
        fail(m, "hypervisor", workload.plugin, workload.name, f"its builder {describe(exc)}")
        return []
    if m.store.data != before or m.store.pending:  # it acted on the machine, not through actors
        m.store.data.clear()
        m.store.data.update(before)
        m.store.pending.clear()
        fail(m, "hypervisor", workload.plugin, workload.name, "its builder changed model state")
        return []
    if not all(hasattr(a, "program") and hasattr(a, "machine") for a in actors):  # Actors
        fail(m, "hypervisor", workload.plugin, workload.name, "its builder must return Actors")
        return []
    for a in actors:
        if not model_owned(a.program):
            a.program = program(workload.plugin, a.name, a.program)
    return actors


def actors_of(attack, m) -> list:
    """The attack's actors (`attack.actors()`, the plugin's code, fenced); each checked. A
    failure is a plugin-error event and no actors."""
    from hvlab.model.core.attacks import AttackActor

    budget = Budget()
    try:
        listed = list(budget.call(attack.actors))
    except KeyboardInterrupt:  # the user's Ctrl-C, not the plugin's doing
        raise
    except BaseException as exc:
        fail(m, "hypervisor", attack.plugin, attack.name, f"actors() {describe(exc)}")
        return []
    bad = [a for a in listed if not isinstance(a, AttackActor) or not callable(a.program)]
    if bad:
        fail(m, "hypervisor", attack.plugin, attack.name, "actors() must list AttackActor records")
        return []
    return listed
