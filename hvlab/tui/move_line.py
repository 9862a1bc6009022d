"""The move line (`:`): the learner types a move as a partition, the model answers.

A line at the bottom of the lab, as in vim's and k9s's command line: tab completes principals,
actions, hypercall names and field names from the model's tables, ↑/↓ walk the history, enter
makes the move (a bad line stays for editing, with one line saying what is wrong), `undo` takes
the last move back, `help` and `help ACTION` say what a move takes, escape closes. The lab behind
stays on screen and is redrawn after each move.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from hvlab.model.scenarios.move_language import complete

PLACEHOLDER = "A: read 0x28000    tab completes · ↑/↓ history · help · undo · esc closes"


class MoveInput(Input):
    """An Input whose tab completes and whose ↑/↓ walk the history."""

    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False, priority=True),
        Binding("up", "history(-1)", "Earlier", show=False),
        Binding("down", "history(1)", "Later", show=False),
    ]

    def __init__(self, history: list[str], drivers: tuple[str, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.history, self.drivers = history, drivers
        self.at = len(history)

    def action_complete(self) -> None:
        line, options = complete(self.value, self.drivers)
        self.value, self.cursor_position = line, len(line)
        if options:
            self.screen.say("  ".join(options[:24]) + (" …" if len(options) > 24 else ""), "dim")

    def action_history(self, delta: int) -> None:
        if not self.history:
            return
        self.at = max(0, min(len(self.history), self.at + delta))
        self.value = self.history[self.at] if self.at < len(self.history) else ""
        self.cursor_position = len(self.value)


class MoveLine(ModalScreen[None]):
    """`submit(line)` makes the move and returns (what, text): "made" (the reply), "error"
    (the line stays for editing) or "info" (help); the lab redraws itself."""

    DEFAULT_CSS = """
    MoveLine { align: center bottom; background: $background 0%; }
    MoveLine > Vertical { width: 100%; height: auto; max-height: 14; background: $surface;
                          border-top: heavy $accent; padding: 0 1; }
    MoveLine #move-reply { height: auto; max-height: 10; }
    MoveLine MoveInput#move-input { border: none; height: 1; padding: 0 0; }
    MoveLine MoveInput#move-input:focus { border: none; }
    """
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(
        self,
        submit: Callable[[str], tuple[str, str]],
        history: list[str],
        principal: str = "A",
        drivers: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.submit, self.history, self.principal = submit, history, principal
        self.drivers = drivers

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="move-reply")
            yield MoveInput(
                self.history,
                self.drivers,
                value=f"{self.principal}: ",
                placeholder=PLACEHOLDER,
                id="move-input",
            )

    def on_mount(self) -> None:
        self.say("a move, as a partition: PRINCIPAL: ACTION ARGS (help lists them)", "dim")
        field = self.query_one(MoveInput)
        field.focus()
        field.cursor_position = len(field.value)

    def say(self, text: str, style: str = "") -> None:
        from rich.text import Text

        self.query_one("#move-reply", Static).update(Text(text, style=style))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        line = event.value.strip()
        if not line:
            return
        what, text = self.submit(line)
        field = self.query_one(MoveInput)
        if what != "made":  # an error stays in the line for editing; help clears it
            self.say(text, "bold red" if what == "error" else "")
            if what == "info":
                field.value = f"{self.principal}: "
                field.cursor_position = len(field.value)
            return
        if not self.history or self.history[-1] != line:
            self.history.append(line)
        field.at = len(self.history)
        head = line.partition(":")[0] if ":" in line and line != "undo" else self.principal
        self.principal = head
        field.value = f"{head}: " if line != "undo" else field.value
        field.cursor_position = len(field.value)
        self.say(text, "bold")

    def action_close(self) -> None:
        self.dismiss(None)
