"""The lesson keys both lab views share: predict (p), hint (h), next and previous step (] [).

A screen mixing this in holds `lesson` (a LessonRun or None), `progress` and `session`, and
defines `show()`; `tell(text)` notifies unless the screen speaks another way.
"""

from __future__ import annotations

from hvlab.lessons.progress import ProgressError
from hvlab.lessons.runner import LessonRun, evidence_step
from hvlab.tui.dialogs import Choose
from hvlab.tui.frame import LESSON_BINDINGS  # noqa: F401 (re-exported for the screens)
from hvlab.tui.lesson_pane import HINT_NAMES

LESSON_ACTIONS = ("predict", "hint", "lesson_step", "lesson_scroll")


class LessonKeys:
    lesson: LessonRun | None
    _announced: dict[int, bool]

    def hold_lesson(self, lesson: LessonRun | None, progress) -> None:
        """Hold a lesson in progress (None: the free lab) and the learner's progress."""
        self.lesson, self.progress = lesson, progress
        self._announced = {}  # the steps whose reached goal has been said

    def tell(self, text: str, *, timeout: float = 6) -> None:
        """Speak to the learner: a notification here; narration mode says it as a line."""
        self.notify(text, timeout=timeout)

    def entry(self):
        return self.progress.get(self.lesson.lesson.id)

    def save(self) -> None:
        try:
            self.progress.save()
        except ProgressError as exc:
            self.notify(str(exc), severity="error")

    def announce_goal(self) -> None:
        """Once per step: say the goal is reached, and mark the lesson done on its last step —
        a last step without a goal once its prediction (if any) is committed."""
        run = self.lesson
        if run is None or self._announced.get(run.index) or self.prediction_pending:
            return  # a goal is reached only once the step's prediction is committed
        if run.step.goal is None and not run.last_step:
            return  # nothing to announce: ] goes on
        if run.step.goal is not None and not run.goal_reached():
            return
        self._announced[run.index] = True
        self.lesson_changed()  # back to the pane's top: the verdict leads there now
        predict = run.step.predict
        if predict is not None:
            chosen = self.entry().predictions.get(run.index, predict.answer)
            why_not = predict.why_not(chosen)
            if predict.explain or why_not:
                self.explain_prediction(
                    predict.explain, why_not, evidence_step(predict, run.session)
                )
        if run.last_step:
            self.entry().status = "done"
            said = "Goal reached. " if run.step.goal is not None else ""
            self.tell(f"{said}Lesson '{run.lesson.title}' done. o: the lessons.", timeout=8)
        else:
            self.tell("Goal reached ✓ — ] for the next step.")
        self.save()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The lesson keys exist only in a lesson (hidden from the footer otherwise)."""
        if action in LESSON_ACTIONS:
            return self.lesson is not None
        return True

    def explain_prediction(self, text: str, why_not: str = "", where: int | None = None) -> None:
        """The step's `explain`, why the learner's choice was not it, and the step of the event
        that shows it — once the run has shown the answer (the lab's pane shows them)."""

    @property
    def prediction_pending(self) -> bool:
        """A prediction this step asks for is not committed yet: until it is, nothing on screen
        may tell what the run does after the cursor."""
        return (
            self.lesson is not None
            and self.lesson.step.predict is not None
            and self.lesson.index not in self.entry().predictions
        )

    def may_move(self) -> bool:
        if self.prediction_pending:
            self.tell("First commit your prediction: press p.", timeout=4)
            return False
        return True

    def action_predict(self) -> None:
        if self.lesson is None or self.lesson.step.predict is None:
            self.tell("This step asks for no prediction.")
            return
        predict, index = self.lesson.step.predict, self.lesson.index

        def done(choice: int | None) -> None:
            if choice is None:
                return
            self.entry().predictions[index] = choice
            self.save()
            # not right or wrong yet: the run shows it, and the pane says so once it has
            goal = self.lesson.step.goal
            if goal is None:
                then = "The answer is in the lesson pane."
            elif goal.needs_moves:
                then = f"Now {goal.describe()}."
            else:
                then = f"Now step and see. Goal: {goal.describe()}."
            self.tell(f"You predicted: {predict.choices[choice]}. {then}")
            self.lesson_updated()

        self.app.push_screen(Choose(predict.prompt, predict.choices), done)

    def action_hint(self) -> None:
        if self.lesson is None or not self.lesson.step.hints:
            self.tell("No hints on this step.")
            return
        entry, index, hints = self.entry(), self.lesson.index, self.lesson.step.hints
        shown = min(entry.hints.get(index, 0) + 1, len(hints))
        entry.hints[index] = shown
        self.save()
        self.hint_given(f"Hint {shown} ({HINT_NAMES[shown - 1]}): {hints[shown - 1]}")
        self.lesson_updated()

    def hint_given(self, text: str) -> None:
        """A hint was given: said here; the lab shows it in the lesson pane only."""
        self.tell(text, timeout=10)

    def action_lesson_step(self, delta: int) -> None:
        if self.lesson is None:
            return
        run = self.lesson
        target = run.index + delta
        if not 0 <= target < len(run.lesson.steps):
            self.tell("That was the last step: o for the lessons." if delta > 0 else "First step.")
            return
        if delta > 0 and self.prediction_pending:
            self.tell("First commit your prediction: press p.", timeout=4)
            return
        if delta > 0 and not run.goal_reached():
            self.tell(f"Not yet: {run.step.goal.describe()} (h for a hint)")
            return
        self.pause("")
        if delta > 0:
            run.enter(target)
        else:
            self.lesson = run = LessonRun(run.lesson, run.catalogue, target)
        entry = self.entry()
        entry.step, entry.status = target, ("done" if entry.status == "done" else "in-progress")
        self.save()
        self.session = run.session
        self.lesson_changed()
        self.show()

    def lesson_changed(self) -> None:
        """A new lesson step is on: screens scroll or speak as they need."""

    def lesson_updated(self) -> None:
        """A prediction or a hint was recorded: redraw (a screen that has said it already need
        not)."""
        self.show()
