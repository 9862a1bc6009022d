"""The move line (`:`): the learner types a move as a partition, the model answers.

A line at the bottom of the lab, as in vim's and k9s's command line: tab completes principals,
actions, hypercall names and field names from the model's tables, ↑/↓ walk the history, enter
makes the move (a bad line stays for editing, with one line saying what is wrong), `undo` takes
the last move back, `help` and `help ACTION` say what a move takes, escape closes. It is a pane
of the lab screen, not a screen over it: the lab stays on screen and is redrawn after each move,
and while the line has focus the lab's one-key bindings step aside (`LabScreen.check_action`).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from hvlab.model.scenarios.move_completion import complete

PLACEHOLDER = "A: read 0x28000    tab completes · ↑/↓ history · help · undo · esc closes"


def typed_over_prefill(line: str) -> str:
    """The line opens holding "A: "; a learner who types a whole move after it, as a lesson
    writes it ("A: write …"), means that move: "A: A: write …" is "A: write …"."""
    head, sep, rest = line.partition(": ")
    inner, sep2, _ = rest.partition(": ")
    if sep and sep2 and head and inner and " " not in inner and " " not in head:
        return rest
    return line


class MoveInput(Input):
    """An Input whose tab completes and whose ↑/↓ walk the history."""

    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False, priority=True),
        Binding("up", "history(-1)", "Earlier", show=False),
        Binding("down", "history(1)", "Later", show=False),
    ]

    def __init__(self, history: list[str], **kwargs) -> None:
        super().__init__(select_on_focus=False, **kwargs)
        self.history, self.drivers = history, ()
        self.at = len(history)

    def action_complete(self) -> None:
        line, options = complete(self.value, self.drivers)
        self.value, self.cursor_position = line, len(line)
        if options:
            self.parent.say("  ".join(options[:24]) + (" …" if len(options) > 24 else ""), "dim")

    def action_history(self, delta: int) -> None:
        if not self.history:
            return
        self.at = max(0, min(len(self.history), self.at + delta))
        self.value = self.history[self.at] if self.at < len(self.history) else ""
        self.cursor_position = len(self.value)


class MoveLine(Vertical):
    """`submit(line)` makes the move and returns (what, text): "made" (the reply), "error"
    (the line stays for editing) or "info" (help); the lab redraws itself."""

    DEFAULT_CSS = """
    MoveLine { dock: bottom; height: 5; margin-bottom: 1; display: none; background: $surface;
               border-top: heavy $accent; padding: 0 1; }
    MoveLine.-open { display: block; }
    MoveLine #move-reply { height: 3; }
    MoveLine MoveInput#move-input { border: none; height: 1; padding: 0 0; }
    MoveLine MoveInput#move-input:focus { border: none; }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    class Closed(Message):
        """The learner closed the line (escape)."""

    def __init__(self, submit: Callable[[str], tuple[str, str]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.submit, self.history, self.principal = submit, [], "A"
        self._last_reply: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="move-reply")
        yield MoveInput(self.history, placeholder=PLACEHOLDER, id="move-input")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, principal: str, drivers: tuple[str, ...], history: list[str]) -> None:
        """Show the line, ready for a move as `principal`."""
        field = self.query_one(MoveInput)
        self.history = field.history = history
        field.at, field.drivers = len(history), drivers
        self.principal = principal
        if not self.is_open:
            field.value = f"{principal}: "
            self.say("a move, as a partition: PRINCIPAL: ACTION ARGS (help lists them)", "dim")
        self.add_class("-open")
        field.focus()
        field.cursor_position = len(field.value)

    def say(self, text: str, style: str = "") -> None:
        self.query_one("#move-reply", Static).update(Text(text, style=style), layout=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = typed_over_prefill(event.value.strip())
        if not line:
            return
        what, text = self.submit(line)
        field = self.query_one(MoveInput)
        if what == "info":  # help: more lines than the reply has, so in a dialog of its own
            from hvlab.tui.dialogs import Report

            self.say("help: enter or escape closes it; then type your move", "dim")
            field.value = f"{self.principal}: "
            field.cursor_position = len(field.value)
            self.app.push_screen(Report("Moves", text.splitlines()))
            return
        if what != "made":  # an error stays in the line for editing
            self.say(text, "bold red")
            return
        if not self.history or self.history[-1] != line:
            self.history.append(line)
        field.at = len(self.history)
        if line != "undo":
            self.principal = line.partition(":")[0]
            field.value = f"{self.principal}: "
        field.cursor_position = len(field.value)
        self.say(text, "bold")
        self._last_reply = text

    def revise(self, text: str) -> None:
        """The reply, once the rest of the run is computed (the verdict may name later events)."""
        if self._last_reply not in (None, text):
            self.say(text, "bold")
        self._last_reply = text

    def action_close(self) -> None:
        self.remove_class("-open")
        self.post_message(self.Closed())
