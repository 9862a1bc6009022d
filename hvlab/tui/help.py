"""Every key of the screen that opened it, read from that screen's bindings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "hvlab steps through a model of a Hyper-V style machine, one event at a time. The trace is "
    "on the left with the architecture under it (the current event's path numbered on it); the "
    "path in words and the tabs (detail, memory, protections, compare, plugins) are on the "
    "right — at 80 columns, one above the other. Switch a protection off and the same run "
    "replays: the compare tab shows where the two runs part and which protection decided. "
    "Press : to act yourself, as a partition: the run forks at the cursor and the model "
    "answers your move. "
    "Every hypercall block and message is laid out as the real one (the detail tab decodes "
    "them); where the model differs from real Hyper-V, docs/model.md's table of "
    "simplifications says how and why."
)


# Textual's key names, as the keyboard shows them
KEY_NAMES = {
    "right": "→", "left": "←", "up": "↑", "down": "↓", "question_mark": "?", "equals_sign": "=",
    "plus": "+", "minus": "-", "colon": ":", "right_square_bracket": "]",
    "left_square_bracket": "[", "pagedown": "page down", "pageup": "page up", "space": "space",
}  # fmt: skip


def keys_table(bindings: list[Binding]) -> Table:
    table = Table(box=None, padding=(0, 2), show_header=True)
    table.add_column("keys", style="bold cyan", no_wrap=True)
    table.add_column("does")
    for b in bindings:
        keys = ", ".join(KEY_NAMES.get(k, k) for k in b.key.split(","))
        table.add_row(Text(keys), Text(b.tooltip or b.description or b.action))
    return table


class HelpScreen(ModalScreen[None]):
    """Escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 100; height: 90%; border: round $accent;
                                  background: $surface; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", priority=True),
    ]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.keys = [b for b in bindings if isinstance(b, Binding)]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("hvlab — help\n", style="bold"))
            yield Static(Text(INTRO + "\n"))
            yield Static(keys_table(self.keys))

    def action_dismiss(self, result=None) -> None:
        self.dismiss(None)
