"""What the event at the cursor is and what it changed, with a hypercall's input value decoded
field by field (the bit layout of the Hyper-V hypercall input value)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from hvlab.model.events import Event, key_label
from hvlab.model.hv import HvCallCode
from hvlab.model.store import Change
from hvlab.render import status_text

# (detail key, bits, meaning) in the order of the input value's layout
INPUT_FIELDS = (
    ("code", "15:0", "call code"),
    ("fast", "16", "fast: parameters in registers"),
    ("var_header", "26:17", "variable header size (8-byte units)"),
    ("rep_count", "43:32", "rep count"),
    ("rep_start", "59:48", "rep start index"),
    ("reserved", "rest", "reserved bits (must be zero)"),
)
GROUPS = (
    ("frame", "frames"),
    ("slat", "second-level map"),
    ("rmap", "reverse map"),
    ("mem", "memory bytes"),
    ("chan", "channels and ring indices"),
    ("sief", "SynIC event flags"),
    ("msg", "SynIC message slots"),
    ("port", "SynIC ports"),
    ("conn", "SynIC connections"),
)


def value_text(value) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:#x}" if value > 9 else str(value)
    if isinstance(value, bytes):
        return value[:16].hex() + ("…" if len(value) > 16 else "")
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def group_of(change: Change) -> str:
    head = str(change[0][0])
    for prefix, label in GROUPS:
        if head == prefix:
            return label
    return head


def describe(ev: Event | None, total: int) -> Text | Group:
    if ev is None:
        return Text("Before the first step. Press n to step.", style="italic")
    d = ev.detail_dict()
    head = Text()
    head.append(f"step {ev.step} of {total - 1}", style="bold")
    head.append(f"  time {ev.time}  ")
    head.append(ev.actor, style="bold")
    head.append(f"  {ev.kind.value} {ev.name} {ev.phase.value}".rstrip())
    if ev.status is not None:
        head.append(f"  {status_text(ev)}", style="red" if int(ev.status) else "green")
    if ev.protection and ev.kind.value != "breach":
        head.append(f"\n✗ decided by protection {ev.protection}", style="bold red")
    if ev.scope:
        head.append(f"\nduring probe {ev.scope}", style="italic")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="magenta", no_wrap=True)
    grid.add_column()

    def add(*cells) -> None:  # plain strings become Text: a '[' in a key is never markup
        grid.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))

    if "input_value" in d and "code" in d:
        add(Text("hypercall input value", style="bold"), value_text(d["input_value"]))
        for key, bits, meaning in INPUT_FIELDS:
            value = d.get(key)
            shown = value_text(value)
            if key == "code" and isinstance(value, int):
                try:
                    shown += f"  {HvCallCode(value).name}"
                except ValueError:
                    shown += "  (no such call)"
            add(f"  [{bits:>5}] {key}", shown)
            add("", Text(f"    {meaning}", style="dim"))
    for key, value in d.items():
        if key in {"input_value"} or any(key == f[0] for f in INPUT_FIELDS):
            continue
        add(key, value_text(value))
    if ev.path:
        add("path", " → ".join(ev.path))
    if ev.changes:
        add(Text(f"changed ({len(ev.changes)})", style="bold"), "")
        last = None
        for change in ev.changes[:200]:
            group = group_of(change)
            if group != last:
                add(Text(f" {group}", style="underline"), "")
                last = group
            key, old, new = change
            add(f"  {key_label(key)}", f"{value_text(old)} → {value_text(new)}")
        if len(ev.changes) > 200:
            add("", f"… and {len(ev.changes) - 200} more")
    else:
        head.append("\nchanged nothing in the machine state", style="dim")
    return Group(head, grid)


class EventDetail(Static):
    """The current event: who, what, the decision, decoded input, and every state change."""

    def show(self, ev: Event | None, total: int) -> None:
        self.update(describe(ev, total))
