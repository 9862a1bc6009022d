"""Narration mode: one plain, labelled line per step, appended as you move; no box drawing, so a
screen reader reads it in order and a projector can show it as captions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, RichLog

from hvlab.lessons.progress import Progress
from hvlab.lessons.runner import LessonRun
from hvlab.narration import narrate
from hvlab.session import Session
from hvlab.tui.lesson_keys import LESSON_BINDINGS, LessonKeys
from hvlab.tui.stepping import STEP_BINDINGS, Stepping


def plain(markdown: str) -> str:
    """Lesson narration without Markdown's marks, for a screen reader to read as prose."""
    text = markdown.replace("**", "").replace("`", "").replace("*", "")
    return " ".join(text.split())


class NarrationScreen(LessonKeys, Stepping):
    """The same keys as the lab (and, in a lesson, p h ] [); each move adds one line."""

    DEFAULT_CSS = "NarrationScreen RichLog { border: none; padding: 0 1; height: 1fr; }"
    BINDINGS = [
        *STEP_BINDINGS,
        Binding("t", "ask_toggle", "Switch protection", priority=True),
        Binding("colon", "ask_move", "Move", priority=True),
        Binding("u", "undo_move", "Undo move", show=False, priority=True),
        *LESSON_BINDINGS,
    ]

    def __init__(
        self,
        session: Session,
        *,
        lesson: LessonRun | None = None,
        progress: Progress | None = None,
        **kwargs,
    ) -> None:
        super().__init__(lesson.session if lesson else session, **kwargs)
        self.hold_lesson(lesson, progress)
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        # lines wrap at the window's width: a sentence is never cut
        yield RichLog(
            id="narration", wrap=True, min_width=1, markup=False, highlight=False, auto_scroll=True
        )
        yield Footer()

    def on_mount(self) -> None:
        lab = self.session.lab
        ending = (
            "" if self.prediction_pending else f"Outcome at the end: {lab.outcome.result}. "
        )  # not before the learner's prediction
        self.say(
            f"hvlab narration. Run: {self.session.spec.describe()}. {len(lab.events)} steps. "
            f"{ending}Press n to step, b to go back, question mark for help."
        )
        if self.lesson is not None:
            self.lesson_changed()
        self.report_plugin_errors()
        self.query_one(RichLog).focus()

    def tell(self, text: str, *, timeout: float = 6) -> None:
        self.say(text)

    def lesson_updated(self) -> None:
        self.announce_goal()  # a goal an action met is said once the prediction is committed

    def lesson_changed(self) -> None:
        run = self.lesson
        step = run.step
        title = f": {step.title}" if step.title else ""
        self.say(
            f"Lesson {run.lesson.title}, step {run.index + 1} of {len(run.lesson.steps)}{title}."
        )
        self.say(plain(step.narration))
        if step.predict is not None:
            choices = " ".join(f"{n}) {c}." for n, c in enumerate(step.predict.choices, 1))
            self.say(f"Predict: {step.predict.prompt} {choices} Press p to answer.")
        if step.goal is not None:
            self.say(f"Goal: {step.goal.describe(reveal=step.predict is None)}.")

    def say(self, line: str) -> None:
        self.lines.append(line)
        from rich.text import Text

        self.query_one(RichLog).write(Text(line))

    def show(self) -> None:
        ev = self.session.event
        if ev is None:
            self.say("Before the first step.")
        else:
            self.say(narrate(ev, len(self.session.lab.events)))
        self.announce_goal()

    def explain_prediction(self, text: str, why_not: str = "", where: int | None = None) -> None:
        if why_not:
            self.say(f"Why not your answer: {' '.join(why_not.split())}")
        if text:
            self.say(f"Why: {' '.join(text.split())}")
        if where is not None:
            self.say(f"The event that shows it is step {where}: j, then {where}, goes there.")

    def action_predict(self) -> None:
        step = self.lesson.step if self.lesson is not None else None
        if step is not None and step.predict is not None:
            count = len(step.predict.choices)
            self.say(f"Predict: {step.predict.prompt} Press a number, 1 to {count}.")
        super().action_predict()

    def action_ask_move(self, value: str = "") -> None:
        """`:` — the same move lines as the lab's; a bad one comes back for editing."""
        from hvlab.tui.dialogs import Ask

        if not self.may_move():
            return
        last = self.session.spec.moves[-1][1].partition(":")[0] if self.session.spec.moves else "A"

        def done(answer: str | None) -> None:
            if not answer or not answer.strip():
                return
            what, text = self.make_move(answer.strip())
            for line in text.splitlines():
                self.say(line)
            if what == "error":
                self.call_after_refresh(self.action_ask_move, answer.strip())

        self.app.push_screen(
            Ask("Move (PRINCIPAL: ACTION ARGS; help lists them):", value or f"{last}: "), done
        )

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
