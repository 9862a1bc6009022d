"""Narration mode: one plain, labelled line per step, appended as you move; no box drawing, so a
screen reader reads it in order and a projector can show it as captions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Log

from hvlab.narration import narrate
from hvlab.session import Session
from hvlab.tui.stepping import STEP_BINDINGS, Stepping


class NarrationScreen(Stepping):
    """The same keys as the lab; each move adds one line to the log."""

    DEFAULT_CSS = "NarrationScreen Log { border: none; padding: 0 1; height: 1fr; }"
    BINDINGS = [
        *STEP_BINDINGS,
        Binding("t", "ask_toggle", "Switch protection", priority=True),
    ]

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(session, **kwargs)
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        yield Log(id="narration", highlight=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        lab = self.session.lab
        self.say(
            f"hvlab narration. Run: {self.session.spec.describe()}. {len(lab.events)} steps. "
            f"Outcome at the end: {lab.outcome.result}. Press n to step, b to go back, "
            "question mark for help."
        )
        self.report_plugin_errors()
        self.query_one(Log).focus()

    def say(self, line: str) -> None:
        self.lines.append(line)
        self.query_one(Log).write_line(line)

    def show(self) -> None:
        ev = self.session.event
        if ev is None:
            self.say("Before the first step.")
        else:
            self.say(narrate(ev, len(self.session.lab.events)))

    def action_ask_toggle(self) -> None:
        from hvlab.tui.dialogs import Ask

        names = ", ".join(self.session.protections)

        def done(answer: str | None) -> None:
            if answer and answer.strip():
                self.action_toggle(answer.strip())

        self.app.push_screen(Ask(f"Switch which protection? ({names})"), done)

    def switch(self, change, protection: str | None) -> None:
        super().switch(change, protection)
        d = self.session.divergence
        if self.session.baseline is not None:
            self.say(
                f"Replayed under design {self.session.design.label}. "
                + (
                    f"The runs part at step {d.step}, decided by "
                    f"{d.protection or 'no single protection'}. "
                    if d
                    else "The two runs are the same. "
                )
                + f"Outcome now: {self.session.lab.outcome.result}."
            )
