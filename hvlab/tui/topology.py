"""The architecture diagram pane, and the path line: the current event's path in words."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from hvlab.model.core import topology
from hvlab.model.core.events import Event
from hvlab.model.core.protections import Design
from hvlab.tui.diagram import BLOCKED, on_map


def path_line(ev: Event | None, design: Design) -> Text:
    """`path: A.kernel → hypervisor ║ root.vid ✗` — ║ marks a trust-boundary crossing."""
    text = Text("path: ", style="bold")
    if ev is None or not ev.path:
        text.append("(this event stays inside one component)" if ev else "(before the first step)")
        return text
    bounds = {n.id: n.boundary for n in topology.build(design).nodes}
    known = set(bounds)
    previous = None
    for i, node in enumerate(ev.path):
        where = bounds.get(on_map(node, known) or "", node.split(".")[0])
        if i:
            text.append(
                " ║ " if where != previous else " → ",
                style="bold yellow" if where != previous else "",
            )
        last = i == len(ev.path) - 1
        text.append(node, style=BLOCKED if (last and ev.blocked) else "bold")
        previous = where
    if ev.blocked:
        text.append(f" ✗ blocked by {ev.protection}", style="bold red")
    elif ev.kind.value == "breach":
        text.append(" ✗ BREACH", style="bold red")
    return text


class Topology(Static):
    """The architecture diagram (see `diagram`), with the current event's path drawn on it.
    While the lab plays, `reveal` draws the path hop by hop within a step's time."""

    DEFAULT_CSS = "Topology { height: auto; padding: 0 1; border-top: hkey $panel-lighten-2; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._drawn: tuple | None = None
        self._last: tuple | None = None  # what was last shown, to draw again at a new width
        self.compact = False  # a few lines, for a small terminal
        self._timer = None

    def on_resize(self) -> None:
        """Drawn before the layout gave it its width (or when the terminal changed): again at
        the width it has now, so that the boxes are not wrapped by the screen."""
        if self._last is not None:
            self.show(*self._last)

    def show(
        self,
        ev: Event | None,
        design: Design,
        drivers: tuple[tuple[str, str], ...] = (),
        hops: int | None = None,
    ) -> None:
        from hvlab.tui.diagram import draw, draw_compact

        self._last = (ev, design, drivers, hops)
        inner = self.content_region.width  # less the padding
        width = max(40, inner) if inner else 78
        key = (ev, design, drivers, hops, width, self.compact)
        if key == self._drawn:
            return
        lines = None if self.compact else draw(ev, design, width, drivers, hops)
        if lines is not None and max(map(len, lines.plain.splitlines()), default=0) > width:
            lines = None  # the boxes do not fit side by side here: the compact form
        if lines is None:
            lines = draw_compact(ev, design, width, drivers, hops)
            rows = len(lines.wrap(self.app.console, width))
        else:
            rows = lines.plain.count("\n") + 1
        self._drawn = key
        # the same boxes every step: a layout only when the laid-out height is not theirs
        self.update(lines, layout=self.size.height != rows)

    def reveal(self, ev: Event | None, design: Design, drivers, seconds: float) -> None:
        """Draw the path one hop at a time over `seconds` (the player's step)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        hops = len(ev.path) if ev is not None else 0
        if hops < 2:
            self.show(ev, design, drivers)
            return
        shown = [1]
        self.show(ev, design, drivers, 1)

        def more() -> None:
            shown[0] += 1
            self.show(ev, design, drivers, shown[0] if shown[0] < hops else None)
            if shown[0] >= hops and self._timer is not None:
                self._timer.stop()
                self._timer = None

        self._timer = self.set_interval(max(0.02, seconds / hops), more)
