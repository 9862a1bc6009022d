"""The lab's frame without the machine: its keys, its layout, and the screen that holds the
terminal while the run is computed.

This module imports Textual only. `hvlab` draws `Loading` — the lab's grid, panes, tab labels
and footer, with "computing the run…" in the status line — as its first frame, while a worker
thread imports the model, loads the plugins and computes the run; the keys pressed meanwhile
are kept and replayed on the lab once it is up. The CSS (hvlab.tcss) styles `LabFrame`, so the
loading screen and the lab share one layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

# The footer shows the keys a learner needs at each step, short enough for 80 columns with a
# lesson open; the help screen (`?`) lists every key, with its tooltip as the longer name.
STEP_BINDINGS = [
    Binding("n,right", "step", "Step", priority=True),
    Binding("b,left", "back", "Back", priority=True),
    Binding("question_mark,f1", "help", "Help", priority=True),
    Binding("d", "design", "Design", priority=True),
    Binding("x", "next_decision", "Decision", tooltip="Next decision", priority=True),
    Binding("j", "jump", "Jump", show=False, priority=True),
    Binding("space", "play", "Play", show=False, priority=True),
    Binding("f", "filter", "Filter", show=False, priority=True),
    Binding("e,end", "to_end", "End", show=False, priority=True),
    Binding("home", "rewind", "Start", show=False, priority=True),
    Binding("g", "divergence", "Go to divergence", show=False, priority=True),
    Binding("plus,equals_sign", "faster", "Faster", show=False, priority=True),
    Binding("minus", "slower", "Slower", show=False, priority=True),
    Binding("s", "screenshot", "Screenshot", show=False, priority=True),
    Binding("o", "start_over", "New run", show=False, priority=True),
    Binding("q", "quit", "Quit", priority=True),
]

LESSON_BINDINGS = [
    Binding("p", "predict", "Predict", priority=True),
    Binding("h", "hint", "Hint", show=False, priority=True),  # the lesson pane offers it
    Binding(
        "right_square_bracket",
        "lesson_step(1)",
        "Next step",
        tooltip="Next lesson step",
        priority=True,
    ),
    Binding(
        "left_square_bracket", "lesson_step(-1)", "Lesson step back", show=False, priority=True
    ),
]

TABS = ("detail", "memory", "protections", "compare", "plugins")

LAB_BINDINGS = [
    *STEP_BINDINGS[:3],  # step, back, help
    STEP_BINDINGS[-1],  # quit: early, so that a narrow footer never loses it
    Binding("t", "protections", "Protections", priority=True),
    *LESSON_BINDINGS,
    Binding("pagedown", "lesson_scroll(1)", "Lesson down", show=False, priority=True),
    Binding("pageup", "lesson_scroll(-1)", "Lesson up", show=False, priority=True),
    Binding("w", "write_trace", "Share this moment", show=False, priority=True),
    Binding("colon", "move_line", "Move", priority=True),
    Binding("y", "offer_gpa", "GPA to the move line", show=False, priority=True),
    Binding("u", "undo_move", "Undo move", show=False, priority=True),
    Binding("r", "recheck", "Re-check", tooltip="Check your exercise file again", priority=True),
    Binding(
        "J",
        "judge",
        "Judge moves",
        tooltip="Judge my moves under every design",
        show=False,
        priority=True,
    ),
    *STEP_BINDINGS[3:-1],
    *(
        Binding(str(i), f"tab('{name}')", name.title(), show=False, priority=True)
        for i, name in enumerate(TABS, 1)
    ),
]

# the timeline's column header at its default widths, unstyled (highlight.HEADER, a test says)
PLAIN_HEADER = " step actor            kind      what                           status     note"


class LabFrame(Screen):
    """What the lab and its loading screen share: the stylesheet, the layout's breakpoints
    (the app's), and the keys in the footer."""

    CSS_PATH = Path(__file__).with_name("hvlab.tcss")  # absolute: subclasses live elsewhere
    BINDINGS = LAB_BINDINGS


class Loading(LabFrame):
    """The lab's frame while the run is computed: the same panes, empty, and the same footer.
    Keys are kept (`queued`) for the lab; `q` and ctrl+c leave at once."""

    def __init__(
        self, start: Callable[[], None], *, lesson: bool = False, what: str = "the run"
    ) -> None:
        """`start`: begins the work, called once this frame is drawn."""
        super().__init__()
        self.start = start
        self.lesson = lesson
        self.what = what
        self.queued: list[events.Key] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(f" computing {self.what}… ", style="bold"), id="status")
        with Vertical(id="left"):
            yield Static(Text(PLAIN_HEADER, style="bold"), id="trace-header")
            yield Static(id="timeline")
        with Vertical(id="right"):
            yield Static(id="path")
            if self.lesson:
                yield Static(id="lesson-scroll")
            # the tab bar as text: Textual's tabs animate their underline in, frame by frame,
            # which would take turns with the worker for the one interpreter
            labels = "  ".join(f"{i} {name.title()}" for i, name in enumerate(TABS, 1))
            yield Static(Text(f" {labels}", style="bold", no_wrap=True, overflow="crop"), id="tabs")
        # the footer as text, for the same reason: Textual's footer composes one widget per key
        # and composes them again once the screen's bindings are known
        yield Static(id="keys")

    def on_mount(self) -> None:
        self.set_class(self.lesson, "-lesson")
        self.query_one("#keys", Static).update(self.footer_text())
        self.start()  # EXPERIMENT

    def footer_text(self) -> Text:
        """What Textual's footer shows for these bindings: one key per action, in its order."""
        text = Text(no_wrap=True, overflow="crop")
        seen: set[str] = set()
        for _, binding, _enabled, _tooltip in self.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                text.append(f" {self.app.get_key_display(binding)} ", style="bold")
                text.append(f"{binding.description} ")
        return text

    def on_key(self, event: events.Key) -> None:
        """A key for the lab, pressed before it is up: kept, in order, to replay on it."""
        event.stop()
        event.prevent_default()
        self.queued.append(events.Key(event.key, event.character))

    def action_quit(self) -> None:
        self.app.exit()
