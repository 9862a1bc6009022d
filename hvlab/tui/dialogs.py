"""Small modal screens: a question (a step number, a filter), a choice, a report to read.
Escape closes each."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList


class Ask(ModalScreen[str | None]):
    """One line of input; dismisses with the text, or None on escape."""

    DEFAULT_CSS = """
    Ask { align: center middle; }
    Ask > Vertical { width: 64; max-width: 100%; height: auto; border: round $accent; padding: 0 1;
                     background: $surface; }
    """
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.question, self.value, self.placeholder = question, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Input(self.value, placeholder=self.placeholder)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Choose(ModalScreen[int | None]):
    """Pick one of `choices` (enter, or its number); escape cancels."""

    DEFAULT_CSS = """
    Choose { align: center middle; }
    Choose > Vertical { width: 70; max-width: 100%; height: auto; border: round $accent;
                        padding: 0 1; background: $surface; }
    Choose OptionList { height: auto; max-height: 12; }
    Choose Label { width: 100%; }
    """
    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, question: str, choices: tuple[str, ...]) -> None:
        super().__init__()
        self.question, self.choices = question, choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield OptionList(*(f"{n}) {c}" for n, c in enumerate(self.choices, 1)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def on_key(self, event) -> None:
        if event.character and len(event.character) == 1 and event.character in "123456789":
            n = int(event.character) - 1
            if 0 <= n < len(self.choices):
                event.stop()
                self.dismiss(n)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Report(ModalScreen[None]):
    """Lines to read (a judgement of the learner's moves); escape, enter or q closes."""

    DEFAULT_CSS = """
    Report { align: center middle; }
    Report > Vertical { width: 96; max-width: 100%; height: auto; max-height: 100%;
                        border: round $accent; padding: 0 1; background: $surface; }
    Report .report-title { text-style: bold; }
    Report .report-foot { color: $text-muted; }
    Report #report-scroll { height: auto; max-height: 1fr; }
    """
    BINDINGS = [("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.title_text, self.lines = title, lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="report-title")
            with VerticalScroll(id="report-scroll"):
                yield Label("\n".join(self.lines), id="report-body", markup=False)
            yield Label("enter or escape: back to the lab", classes="report-foot")

    def action_close(self) -> None:
        self.dismiss(None)
