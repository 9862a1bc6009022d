"""What the event at the cursor is and what it changed, with a hypercall's input value decoded
field by field (the bit layout of the Hyper-V hypercall input value), and any message or block
the event carries decoded by its real layout (offset, size, field, value)."""

from __future__ import annotations

from enum import IntEnum

from rich.console import Group
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from hvlab.model.core.events import Event, key_label
from hvlab.model.core.store import Change
from hvlab.model.core.wire import REGISTRY
from hvlab.model.hypervisor.constants import HvCallCode
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


# A set-up event changes hundreds of keys; a pane of 48 rows is more than a screen, and drawing
# each row costs a step key ~1 ms on top (under `hvlab serve` that is every student's cost).
SHOWN_CHANGES = 48


def value_text(value) -> str:
    """A stored value in words and hex, not as Python writes it: `root (ram)` for an owner and
    kind, `0xa5, rwx` for a map entry, `0x10, 0x11` for frames, `yes`/`no`, `—` for absent."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, IntEnum):
        return getattr(value, "label", value.name)
    if isinstance(value, int):
        return f"{value:#x}" if value > 9 else str(value)
    if isinstance(value, bytes):
        return value[:16].hex() + ("…" if len(value) > 16 else "")
    if isinstance(value, tuple | list | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
        if len(items) == 2 and all(isinstance(v, str) for v in items):
            text = f"{items[0]} ({items[1]})"  # an owner and a kind
        else:
            text = ", ".join(value_text(v) for v in items) or "none"
    else:
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
        if ev.move is not None:
            head.append(f"\npart of your move {ev.move}", style="bold magenta")
        else:
            head.append(f"\nduring probe {ev.scope}", style="italic")
    rows: list[tuple[Text, Text]] = []

    def add(*cells) -> None:  # plain strings become Text: a '[' in a key is never markup
        key, value = (Text(c) if isinstance(c, str) else c for c in cells)
        rows.append((key, value))

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
    layout = REGISTRY.get(d.get("layout", ""))
    if layout is not None and isinstance(d.get("bytes"), str):
        raw = bytes.fromhex(d["bytes"])
        add(
            Text(f"{layout.name} ({len(raw)} bytes)", style="bold"),
            Text(layout.source, style="dim"),
        )
        for offset, size, name, value in sorted(layout.explain(raw)):
            add(f"  [{offset:>3}+{size}] {name}", value_text(value))
    for key, value in d.items():
        if key in {"input_value"} or any(key == f[0] for f in INPUT_FIELDS):
            continue
        if layout is not None and key in ("layout", "bytes"):
            continue
        add(key, value_text(value))
    if ev.path:
        add("path", " → ".join(ev.path))
    if ev.changes:
        add(Text(f"changed ({len(ev.changes)})", style="bold"), "")
        last = None
        for change in ev.changes[:SHOWN_CHANGES]:
            group = group_of(change)
            if group != last:
                add(Text(f" {group}", style="underline"), "")
                last = group
            key, old, new = change
            add(f"  {key_label(key)}", f"{value_text(old)} → {value_text(new)}")
        if len(ev.changes) > SHOWN_CHANGES:
            more = len(ev.changes) - SHOWN_CHANGES
            add("", f"… and {more} more (every change: hvlab run WORKLOAD --json)")
    else:
        head.append("\nchanged nothing in the machine state", style="dim")
    return Group(head, two_columns(rows))


def two_columns(rows: list[tuple[Text, Text]]) -> Text:
    """Keys in a column of their widest, values beside them: as a table grid shows them, drawn
    as lines of text (a grid measures and wraps every cell, ~4 ms a row at every step)."""
    width = max((key.cell_len for key, _ in rows), default=0)
    out = Text()
    for i, (key, value) in enumerate(rows):
        if i:
            out.append("\n")
        out.append_text(Text.assemble(key, style="magenta"))
        out.append(" " * (width - key.cell_len + 1))
        out.append_text(value)
    return out


class EventDetail(ScrollView):
    """The current event: who, what, the decision, decoded input, and every state change.

    A scroll view that draws only the lines on screen: a step changes what it holds without a
    layout pass of the whole screen (a Static growing by sixty lines costs one each step)."""

    # The gutter is kept whether or not a scroll bar shows, so lines are wrapped at one width.
    DEFAULT_CSS = "EventDetail { height: 1fr; scrollbar-gutter: stable; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._content: Text | Group = Text("")
        self._lines: list[Strip] = []
        self._width = -1

    @property
    def plain(self) -> str:
        """What the pane says, as plain text (for tests and screen readers)."""
        return "\n".join(strip.text.rstrip() for strip in self._lines)

    def show(self, ev: Event | None, total: int) -> None:
        self._content = describe(ev, total)
        self._width = -1
        self._wrap()
        self.scroll_home(animate=False, immediate=True)
        self.refresh()

    def _wrap(self) -> None:
        """Render the content at the pane's width: once it has one (until its first layout it
        has none, and on_resize comes next)."""
        region = self.scrollable_content_region
        if region.width <= 0 or region.width == self._width:
            return
        self._width = region.width
        console = self.app.console
        options = console.options.update_width(region.width)
        self._lines = [Strip(line) for line in console.render_lines(self._content, options)]
        # A new virtual size costs a layout of the whole screen; most events fit the pane, so
        # it keeps the pane's height, and a longer one is rounded up to a multiple of 32 rows.
        height = max(1, region.height)
        rows = len(self._lines)
        size = Size(region.width, height if rows <= height else -(-rows // 32) * 32)
        if size != self.virtual_size:
            self.virtual_size = size

    def on_resize(self) -> None:
        self._wrap()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        row = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if row >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        return (
            self._lines[row].extend_cell_length(width).crop(0, width).apply_style(self.rich_style)
        )
