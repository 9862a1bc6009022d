"""Events: one immutable record per micro-step of the machine."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from hvlab.model.core.store import Change


class EventKind(StrEnum):
    BOOT = "boot"  # the machine's own set-up: frames, hypervisor image
    HYPERCALL = "hypercall"
    MEMORY = "memory"
    MSR = "msr"
    INTERCEPT = "intercept"
    MESSAGE = "message"  # SynIC message posted or consumed
    SIGNAL = "signal"  # SynIC event flag set
    POLICY = "policy"  # a decision of the root's virtualization stack
    FAULT = "fault"  # an access or instruction that failed and was reflected to the actor
    CANARY = "canary"  # the lab planted a secret or an integrity marker
    BREACH = "breach"  # the oracle saw a canary reach someone not entitled to it
    PROBE = "probe"  # an attack or probe began or ended
    SCHEDULE = "schedule"  # an actor started or finished its program
    VMBUS = "vmbus"  # a VMBus control message handled, a channel's state changed
    VSP = "vsp"  # a VSP or the vswitch accepted, refused or completed a packet
    DEVICE = "device"  # port I/O or a sector read or written
    DRIVER = "driver"  # a request to load a driver, and the answer
    SITE = "site"  # an installed driver used a capability at a site
    MOVE = "move"  # the learner's own move began, or got its reply


# The name of the SCHEDULE event that stops a plugin's actor (see core.guard): the oracle's
# verdict on its probe, and on the run, is `error`.
PLUGIN_ERROR = "plugin-error"


class Phase(StrEnum):
    ENTRY = "entry"
    VALIDATE = "validate"
    DISPATCH = "dispatch"
    COMPLETE = "complete"
    NONE = ""


@dataclass(frozen=True, slots=True)
class Event:
    """One micro-step. `changes` are the store changes it made: (key, old, new)."""

    step: int
    time: int
    actor: str
    kind: EventKind
    name: str
    phase: Phase = Phase.NONE
    status: IntEnum | None = None
    protection: str | None = None
    path: tuple[str, ...] = ()
    detail: tuple[tuple[str, Any], ...] = ()
    scope: str | None = None
    op: int = 0
    changes: tuple[Change, ...] = ()

    @property
    def blocked(self) -> bool:
        """True when a protection decided against the actor at this step."""
        return self.protection is not None and self.kind is not EventKind.BREACH

    def detail_dict(self) -> dict[str, Any]:
        return dict(self.detail)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "time": self.time,
            "actor": self.actor,
            "kind": self.kind.value,
            "name": self.name,
            "phase": self.phase.value,
            "status": status_json(self.status),
            "protection": self.protection,
            "path": list(self.path),
            "detail": {k: jsonable(v) for k, v in self.detail},
            "scope": self.scope,
            "op": self.op,
            "changes": [[key_label(k), jsonable(o), jsonable(n)] for k, o, n in self.changes],
        } | ({"move": self.move} if self.move is not None else {})

    @property
    def move(self) -> int | None:
        """The number of the learner's move this event belongs to (its scope is `move:N`)."""
        scope = self.scope
        if scope is not None and scope.startswith("move:"):
            return int(scope[5:])
        return None


def status_json(status: IntEnum | None) -> dict[str, Any] | None:
    if status is None:
        return None
    label = getattr(status, "label", status.name)
    return {"name": label, "value": int(status)}


def key_label(key: tuple) -> str:
    return ":".join(f"{p:#x}" if isinstance(p, int) else str(p) for p in key)


def jsonable(value: Any) -> Any:
    if isinstance(value, IntEnum):
        return status_json(value)
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


class EventLog(Sequence[Event]):
    """The events of a run, held compactly: per event a time, an op number, one reference to
    its *shape* (actor, kind, name, phase, status, protection, path, detail, scope — shared by
    every event that looks the same, as events in a loop do) and one to its changes. An Event is
    rebuilt when read. A million-event trace so costs tens of bytes an event, not hundreds."""

    __slots__ = ("_changes", "_intern", "_op", "_parts", "_shape", "_time")

    def __init__(self) -> None:
        self._time = array("q")
        self._op = array("q")
        self._shape: list[tuple] = []
        self._changes: list[tuple] = []
        self._intern: dict[tuple, tuple] = {}
        self._parts: dict[tuple, tuple] = {}

    def record(
        self, time, op, actor, kind, name, phase, status, protection, path, detail, scope, changes
    ) -> int:
        """Append one event given by its fields (`detail` as a tuple of items); returns its step.
        The machine's hot path, so one call does it all and no Event is built. A shape — every
        field but time, op and changes — seen before is stored once, and so are paths and
        details: shapes that differ elsewhere still share them (a write and the read of the
        same bytes)."""
        try:
            parts = self._parts
            shape = (
                actor, kind, name, phase, status, protection, parts.setdefault(path, path),
                parts.setdefault(detail, detail) if detail else (), scope,
            )  # fmt: skip
            shape = self._intern.setdefault(shape, shape)
        except TypeError:  # something unhashable inside: keep this one as it is
            shape = (actor, kind, name, phase, status, protection, path, detail, scope)
        self._shape.append(shape)
        self._changes.append(changes)
        self._time.append(time)
        self._op.append(op)
        return len(self._shape) - 1

    def append(self, ev: Event) -> None:
        if ev.step != len(self._shape):
            raise ValueError(f"event {ev.step} appended as number {len(self._shape)}")
        self.record(
            ev.time, ev.op, ev.actor, ev.kind, ev.name, ev.phase, ev.status, ev.protection,
            ev.path, ev.detail, ev.scope, ev.changes,
        )  # fmt: skip

    def prefix(self, n: int) -> EventLog:
        """A new log holding this one's first `n` events (shared, not copied), open for more."""
        log = EventLog()
        log._time, log._op = self._time[:n], self._op[:n]
        log._shape, log._changes = self._shape[:n], self._changes[:n]
        return log

    def seal(self) -> None:
        """The run is recorded: drop the tables that found equal shapes, paths and details."""
        self._intern, self._parts = {}, {}

    def __len__(self) -> int:
        return len(self._shape)

    def _event(self, i: int) -> Event:
        a, k, n, ph, st, pr, pa, de, sc = self._shape[i]
        return Event(
            i, self._time[i], a, k, n, ph, st, pr, pa, de, sc, self._op[i], self._changes[i]
        )

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._event(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("event index out of range")
        return self._event(index)

    def __iter__(self) -> Iterator[Event]:
        for i in range(len(self)):
            yield self._event(i)

    def shape(self, i: int) -> tuple:
        """Event i without its step, time, op and changes: equal shapes look the same."""
        return self._shape[i]

    def in_scope(self, scope: str, start: int = 0) -> list[int]:
        """The steps from `start` on of the events in `scope` (a probe, or a move's `move:N`),
        found without rebuilding events."""
        shapes = self._shape
        return [i for i in range(max(0, start), len(shapes)) if shapes[i][8] == scope]

    def changes(self, i: int) -> tuple[Change, ...]:
        """Event i's store changes, without rebuilding the event (time travel's hot path)."""
        return self._changes[i]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EventLog({len(self)} events)"
