"""The trace as a scrolling list, one highlighted line per event; only visible lines are drawn,
so a million-event run scrolls as fast as a short one."""

from __future__ import annotations

from bisect import bisect_left

from rich.segment import Segment
from rich.style import Style
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from hvlab.session import Session
from hvlab.tui.highlight import event_text, widths_for

CURSOR = Style(bgcolor="grey30", bold=True)
DECIDED = Style(bgcolor="dark_red")
MOVED = Style(color="black", bgcolor="magenta", bold=True)  # an event of the learner's move


class Timeline(ScrollView, can_focus=True):
    """Events of the run that the filter shows. The cursor line is marked with `>` and a bar.

    Click a line to jump to that step.
    """

    class StepChosen(Message):
        """The learner picked a step in the timeline."""

        def __init__(self, step: int) -> None:
            self.step = step
            super().__init__()

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self.session = session
        # keyed by the event's step and shape (what a line shows): a run forked by a move shares
        # its lines up to the fork with the run before it
        self._cache: dict[tuple, Strip] = {}
        self._cache_cleared = True
        self._row: int | None = None
        self._shown: tuple | None = None  # the run and filter on screen
        self.conceal = False
        self.widths = (16, 30)  # the actor and what columns (see highlight.widths_for)
        self._actors: tuple = (None, ())

    def column_widths(self) -> tuple[int, int]:
        """The columns for this width and this run's actors (one less cell: the mark)."""
        log = self.session.lab.events
        if self._actors[0] is not log:
            shapes = (log.shape(i)[0] for i in range(len(log)))
            self._actors = (log, tuple(sorted(set(shapes))))
        width = self.scrollable_content_region.width  # less the scroll bar
        return widths_for(max(0, width - 1) or 78, self._actors[1])

    def show(self, session: Session, conceal: bool = False) -> None:
        """`conceal`: a prediction is pending — no `!` after the cursor gives the run away."""
        if len(self._cache) > 4096:
            self._cache.clear()
            self._cache_cleared = True
        self.session = session
        widths = self.column_widths()
        if widths != self.widths:  # a new width or a run with other actors: redraw every line
            self.widths, self._cache_cleared = widths, True
            self._cache.clear()
        if conceal != self.conceal:
            self.conceal, self._cache_cleared = conceal, True
            self._cache.clear()
        visible = session.visible
        size = Size(200, len(visible))
        resized = size != self.virtual_size
        self.virtual_size = size
        here = self.cursor_row()
        top, height = int(self.scroll_offset.y), max(1, self.size.height)
        scrolled = False
        if here is not None and not top <= here < top + height:
            self.scroll_to(y=max(0, here - height // 3), animate=False, immediate=True)
            scrolled = True
        before, self._row = self._row, here
        shown = (id(session.lab), session.filter)
        if resized or scrolled or self._cache_cleared or shown != self._shown:
            self._cache_cleared = False
            self._shown = shown
            self.refresh()
            return
        # a step only moves the cursor bar: redraw the two lines it left and reached
        for row in {before, here} - {None}:
            if top <= row < top + height:
                self.refresh_lines(row)  # a content row: ScrollView subtracts the scroll itself

    def cursor_row(self) -> int | None:
        visible = self.session.visible
        i = bisect_left(visible, self.session.cursor)
        return i if i < len(visible) and visible[i] == self.session.cursor else None

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        visible = self.session.visible
        width = self.size.width
        if row >= len(visible):
            return Strip.blank(width, self.rich_style)
        step = visible[row]
        key = (step, self.session.lab.events.shape(step))
        strip = self._cache.get(key)
        if strip is None:
            ev = self.session.lab.events[step]
            text = event_text(ev, *self.widths)
            segments = list(text.render(self.app.console))
            strip = Strip(segments, text.cell_len)
            decided = ev.blocked or ev.kind.value == "breach"
            if decided and not (self.conceal and step > self.session.cursor):
                strip = Strip([Segment("!", DECIDED), *strip]).simplify()
            elif ev.scope is not None and ev.scope.startswith("move:"):
                strip = Strip([Segment("◆", MOVED), *strip]).simplify()
            else:
                strip = Strip([Segment(" "), *strip])
            self._cache[key] = strip
        strip = strip.crop(scroll_x, scroll_x + width).extend_cell_length(width)
        if step == self.session.cursor:
            strip = Strip([Segment(">", CURSOR), *strip.crop(1)]).apply_style(CURSOR)
        return strip.apply_style(self.rich_style)

    def on_click(self, event: Click) -> None:
        row = int(self.scroll_offset.y) + event.y
        if 0 <= row < len(self.session.visible):
            self.post_message(self.StepChosen(self.session.visible[row]))
