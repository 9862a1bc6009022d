"""Plain-text rendering of traces and outcomes (the CLI's table; later the narration mode)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hvlab.model.core.canaries import Outcome
from hvlab.model.core.events import Event, EventKind

HEADER = f"{'step':>5} {'time':>5}  {'actor':<18} {'kind':<9} {'what':<36} {'status':<27} note"
SHOWN_DETAIL = (
    "message",
    "rndis",
    "why",
    "canary",
    "partition",
    "msr",
    "gpa",
    "frame",
    "to",
    "probe",
    "skipped",
    "token",
)


def status_text(ev: Event) -> str:
    if ev.status is None:
        return ""
    return getattr(ev.status, "label", ev.status.name)


def note_text(ev: Event) -> str:
    d = ev.detail_dict()
    parts = []
    if ev.protection:
        parts.append(f"[{ev.protection}]")
    if ev.kind is EventKind.HYPERCALL and ev.phase.value == "entry":
        parts.append(f"input={d['input_value']:#018x}")
        if d.get("rep_count"):
            parts.append(f"reps={d['rep_count']} start={d['rep_start']}")
    for key in SHOWN_DETAIL:
        if key == "message" and d.get(key) == ev.name:
            continue  # the event is already named after the message
        if key in d and d[key] not in ((), None, ""):
            value = d[key]
            if isinstance(value, tuple):
                value = "; ".join(map(str, value))
            parts.append(f"{key}={value:#x}" if isinstance(value, int) else f"{key}={value}")
    if ev.scope:
        parts.append(f"({ev.scope})")
    return " ".join(parts)


def trace_lines(events: Iterable[Event]) -> Iterator[str]:
    yield HEADER
    for ev in events:
        what = ev.name + (f" {ev.phase.value}" if ev.phase.value else "")
        yield (
            f"{ev.step:>5} {ev.time:>5}  {ev.actor:<18} {ev.kind.value:<9} {what:<36} "
            f"{status_text(ev):<27} {note_text(ev)}"
        ).rstrip()


def outcome_lines(outcome: Outcome) -> Iterator[str]:
    yield f"outcome: {outcome.result}" + ("" if outcome.completed else " (run did not finish)")
    for p in outcome.probes:
        if p.result == "blocked":
            status = getattr(p.status, "label", "") if p.status is not None else ""
            yield f"  {p.name:<22} blocked by {decider(p)} at step {p.step}" + (
                f" ({status})" if status else ""
            )
        elif p.result == "unavailable":
            yield (
                f"  {p.name:<22} UNAVAILABLE: {p.principal} stopped serving at step {p.step}"
                f" ({p.reason})"
            )
        elif p.result == "breached":
            verb = (
                f"{p.principal} wrote {p.canary}"
                if p.reason == "write"
                else (f"{p.canary} reached {p.principal}")
            )
            yield f"  {p.name:<22} BREACHED: {verb} at step {p.step}"
        else:
            yield f"  {p.name:<22} error: {p.reason}"
    stray = [s for s in outcome.breaches if not any(p.step == s for p in outcome.probes)]
    if stray:
        yield f"  breaches outside any probe at steps {', '.join(map(str, stray))}"


def decider(v) -> str:
    """Who blocked: the protection, or — no protection asked — the architecture itself."""
    return v.protection or "the architecture (no protection decides: no such path)"


def verdict_text(v, at_step: bool = False) -> str:
    """The oracle's verdict on a move, in words: breached, blocked (by what, with which status)
    or done; `at_step` adds where it was decided."""
    where = f" at step {v.step}" if at_step and v is not None and v.step is not None else ""
    if v is None:
        return "did not run"
    if v.result == "breached":
        return f"BREACHED: {v.canary} reached {v.principal}{where}"
    if v.result == "unavailable":
        return f"UNAVAILABLE: {v.principal} stopped serving{where}"
    if v.result == "blocked":
        status = getattr(v.status, "label", "")
        return f"blocked by {decider(v)}{where}" + (f" ({status})" if status else "")
    status = getattr(v.status, "label", "")
    if (
        isinstance(status, str)
        and status.startswith("HV_STATUS_")
        and status != "HV_STATUS_SUCCESS"
    ):
        return f"done: it failed with {status}, and no protection decided it"
    return "done, nothing refused it"


def move_lines(lab) -> Iterator[str]:
    """Each move of the run: its line, its reply, and the oracle's verdict on it."""
    replies = {
        ev.move: ev.detail_dict().get("reply", "")
        for ev in lab.events
        if ev.kind is EventKind.MOVE and ev.name == "reply"
    }
    for number, (_step, move) in enumerate(lab.moves, 1):
        v = lab.outcome.move(number)
        if v is None:
            yield f"  move {number} ({move.text}): did not run"
            continue
        yield f"  move {number} ({move.text}): {replies.get(number, '')} — {verdict_text(v, True)}"
