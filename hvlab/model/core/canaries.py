"""Canaries and the outcome oracle.

The lab plants secrets (tokens in memory that only some principals may read) and integrity
markers (frames only some principals may write). An attack or probe has *breached* only when the
model itself saw a secret reach a principal not entitled to it, or a marked frame written by one
not entitled to write it. Nothing an attack says about itself counts.

Store keys:
  ("canaries",) -> (name, ...)
  ("canary", name) -> (token, entitled principals, pfn)
  ("marker", pfn) -> (name, principals entitled to write)
  ("page-canary", partition, gpn) -> (name, principals entitled to learn which page it holds)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hvlab.model.core.events import PLUGIN_ERROR, Event, EventKind, status_json
from hvlab.model.core.store import Store


@dataclass(frozen=True)
class PluginCanary:
    """A canary a plugin registered: a secret at `gpa` of `where`'s memory ("root" or
    "hypervisor") only `readers` may read, and/or a marker on its frame only `writers` may
    write (see Machine.plant_plugin_canaries)."""

    name: str
    where: str
    gpa: int
    readers: tuple[str, ...] | None = None
    writers: tuple[str, ...] | None = None
    plugin: str = ""


def plant_secret(
    store: Store, name: str, token: bytes, entitled: tuple[str, ...], pfn: int
) -> None:
    store.set(("canaries",), (*store.get(("canaries",), ()), name))
    store.set(("canary", name), (token, tuple(sorted(entitled)), pfn))


def plant_marker(store: Store, pfn: int, name: str, writers: tuple[str, ...]) -> None:
    store.set(("marker", pfn), (name, tuple(sorted(writers))))


def plant_page(
    store: Store, name: str, partition: str, gpn: int, entitled: tuple[str, ...]
) -> None:
    """A page whose contents are one of a few a guesser could try: which one is the secret."""
    store.set(("page-canary", partition, gpn), (name, tuple(sorted(entitled))))


def pages_learned(store: Store, principal: str, pages: tuple[tuple[str, int], ...]) -> list[str]:
    """Names of the page canaries among `pages` ((partition, gpn) pairs whose page was combined
    with one of `principal`'s) that `principal` is not entitled to learn."""
    out = []
    for partition, gpn in pages:
        canary = store.get(("page-canary", partition, gpn))
        if canary is not None and principal not in canary[1]:
            out.append(canary[0])
    return out


def secrets_seen(store: Store, principal: str, data: bytes) -> list[str]:
    """Names of the secrets in `data` that `principal` is not entitled to read."""
    if not data or not any(data):
        return []
    seen = []
    for name in store.get(("canaries",), ()):
        token, entitled, _pfn = store.get(("canary", name))
        if principal not in entitled and token in data:
            seen.append(name)
    return seen


def markers_violated(store: Store, principal: str, pfns: tuple[int, ...]) -> list[tuple[str, int]]:
    out = []
    for pfn in pfns:
        marker = store.get(("marker", pfn))
        if marker is not None and principal not in marker[1]:
            out.append((marker[0], pfn))
    return out


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """The oracle's verdict on one probe or attack: blocked, breached, unavailable (it stopped a
    component that serves others) or error."""

    name: str
    result: str
    step: int | None = None
    protection: str | None = None
    status: Any = None
    canary: str | None = None
    principal: str | None = None
    blocked_by: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "result": self.result,
            "step": self.step,
            "protection": self.protection,
            "status": status_json(self.status),
            "canary": self.canary,
            "principal": self.principal,
            "blocked_by": list(self.blocked_by),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    probes: tuple[ProbeOutcome, ...] = ()
    breaches: tuple[int, ...] = ()  # steps of every breach event, in or out of a probe
    completed: bool = True
    errors: tuple[str, ...] = field(default=())
    moves: tuple[ProbeOutcome, ...] = ()  # the learner's moves: breached, blocked or done
    failures: tuple[tuple[str, str], ...] = ()  # (plugin, its line in `errors`): plugin-errors

    @property
    def result(self) -> str:
        if self.errors or any(p.result == "error" for p in self.probes):
            return "error"
        if self.breaches:
            return "breached"
        if any(p.result == "unavailable" for p in self.probes):
            return "unavailable"
        if self.probes:
            return "blocked"
        return "ok"

    def probe(self, name: str) -> ProbeOutcome:
        for p in self.probes:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "completed": self.completed,
            "probes": [p.to_json() for p in self.probes],
            "breach_steps": list(self.breaches),
            "errors": list(self.errors),
        } | ({"moves": [m.to_json() for m in self.moves]} if self.moves else {})

    def move(self, number: int) -> ProbeOutcome | None:
        return next((m for m in self.moves if m.name == f"move:{number}"), None)


def assess(events: list[Event] | tuple[Event, ...], errors: tuple[str, ...] = ()) -> Outcome:
    """The oracle: read the verdicts off the trace the model produced."""
    order: list[str] = []
    scoped: dict[str, list[Event]] = {}
    breaches = []
    failures = []
    for ev in events:
        if ev.kind is EventKind.BREACH:
            breaches.append(ev.step)
        elif ev.kind is EventKind.SCHEDULE and ev.name == PLUGIN_ERROR:
            failures.append((ev.detail_dict().get("plugin", ""), plugin_failure(ev)))
        if ev.scope is not None:
            if ev.scope not in scoped:
                scoped[ev.scope] = []
                order.append(ev.scope)
            scoped[ev.scope].append(ev)
    probes = tuple(_verdict(name, scoped[name]) for name in order if not name.startswith("move:"))
    moves = tuple(
        _verdict(name, scoped[name], move=True) for name in order if name.startswith("move:")
    )
    last = events[-1] if events else None
    completed = (
        last is not None
        and last.kind is EventKind.SCHEDULE
        and last.name == "halt"
        and not last.detail_dict().get("unfinished")
    )
    lines = tuple(line for _plugin, line in failures)
    return Outcome(probes, tuple(breaches), completed, (*errors, *lines), moves, tuple(failures))


SERVICE_STOPPED = "service-stopped"  # a VSP event: it serves no one any more (verdict unavailable)
HYPERVISOR_STOPPED = "hypervisor-stopped"  # an intercept event: the hypervisor itself faulted
STOPS = {(EventKind.VSP, SERVICE_STOPPED), (EventKind.INTERCEPT, HYPERVISOR_STOPPED)}


def plugin_failure(ev: Event) -> str:
    """A plugin-error event as one line: the plugin, its program, the step, the problem."""
    d = ev.detail_dict()
    return (
        f"plugin '{d.get('plugin')}': program '{d.get('program')}' {d.get('problem')} "
        f"(step {ev.step})"
    )


def _refused(ev: Event) -> bool:
    """The model turned the actor down at this step, no protection asked: a fault reflected to
    it, or a call that failed (a nonzero status)."""
    if ev.kind is EventKind.FAULT:
        return True
    status = ev.status  # a hypercall status: its label is HV_STATUS_*, 0 is HV_STATUS_SUCCESS
    label = getattr(status, "label", "")
    return isinstance(label, str) and label.startswith("HV_STATUS_") and int(status) != 0


def move_verdict(events, number: int) -> ProbeOutcome | None:
    """The oracle's verdict on move `number` from the events so far (a lab still computing)."""
    scope = f"move:{number}"
    mine = [events[i] for i in events.in_scope(scope)]
    return _verdict(scope, mine, move=True) if mine else None


def _verdict(name: str, events: list[Event], move: bool = False) -> ProbeOutcome:
    for ev in events:  # a plugin that failed decides nothing, whatever it did before
        if ev.kind is EventKind.SCHEDULE and ev.name == PLUGIN_ERROR:
            return ProbeOutcome(name, "error", ev.step, reason=plugin_failure(ev))
    blocks = [e for e in events if e.blocked]
    blocked_by = tuple(dict.fromkeys(e.protection for e in blocks if e.protection))
    stopped = None
    for ev in events:
        if stopped is None and (ev.kind, ev.name) in STOPS:
            stopped = ev
        if ev.kind is EventKind.BREACH:
            d = ev.detail_dict()
            return ProbeOutcome(
                name,
                "breached",
                ev.step,
                canary=d.get("canary"),
                principal=d.get("principal", ev.actor),
                blocked_by=blocked_by,
                reason=str(d.get("how", "")),
            )
    if stopped is not None:  # a component that serves others stopped: denial of service
        return ProbeOutcome(
            name,
            "unavailable",
            stopped.step,
            principal=stopped.actor,
            blocked_by=blocked_by,
            reason=str(stopped.detail_dict().get("why", "")),
        )
    if blocks:
        first = blocks[0]
        return ProbeOutcome(
            name,
            "blocked",
            first.step,
            first.protection,
            first.status,
            blocked_by=blocked_by,
            reason=first.name,
        )
    if not move:  # no protection decided, yet the model refused: the architecture itself did
        refused = next((e for e in events if _refused(e)), None)
        if refused is not None:
            return ProbeOutcome(
                name,
                "blocked",
                refused.step,
                None,
                refused.status,
                reason=f"no protection decides: the hypervisor has no such path ({refused.name})",
            )
    if move:  # a move that nothing refused: done, with the last status it got
        status = next((e.status for e in reversed(events) if e.status is not None), None)
        return ProbeOutcome(name, "done", events[-1].step, None, status, reason=events[-1].name)
    return ProbeOutcome(
        name, "error", reason="ended with neither a breach nor a protection's decision"
    )
