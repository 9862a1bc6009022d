"""Narration: each event as one labelled sentence, with no drawing characters.

Used by the TUI's narration mode (`hvlab --narrate`), which screen readers can follow and a
projector can show as captions, and printed as is when the output is not a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from hvlab.model.core.events import Event, EventKind
from hvlab.render import status_text

SAID = ("why", "partition", "gpa", "frame", "to", "probe", "canary", "driver", "relid", "lba")


def narrate(ev: Event, total: int) -> str:
    d = ev.detail_dict()
    what = f"{ev.kind.value} {ev.name}" + (f", {ev.phase.value}" if ev.phase.value else "")
    parts = [f"Step {ev.step} of {total - 1}.", f"Actor {ev.actor}:", what + "."]
    if ev.kind is EventKind.HYPERCALL and "code" in d and ev.phase.value == "entry":
        parts.append(f"Call code {d['code']:#x}, {d.get('rep_count', 0)} repetitions.")
    if ev.status is not None:
        parts.append(f"Status {status_text(ev)}.")
    if ev.kind is EventKind.MOVE:
        parts.append(f"Your move {d.get('move')}: {d.get('line', '')}.")
        if d.get("reply"):
            parts.append(f"Reply: {d['reply']}.")
    if ev.kind is EventKind.BREACH:
        parts.append(f"Breach: {d.get('canary', 'a canary')} reached {d.get('to', ev.actor)}.")
    elif ev.protection:
        parts.append(f"Blocked by {ev.protection}.")
    said = [
        f"{key} {value:#x}" if isinstance(value, int) else f"{key} {value}"
        for key, value in d.items()
        if key in SAID and value not in ((), None, "")
    ]
    if said:
        parts.append("Details: " + "; ".join(said) + ".")
    if ev.path:
        parts.append("Path: " + ", then ".join(ev.path) + ".")
    return " ".join(parts)


def narrate_all(events: Iterable[Event], total: int) -> Iterator[str]:
    for ev in events:
        yield narrate(ev, total)
