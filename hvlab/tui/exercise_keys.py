"""The lab's exercise mode (hvlab exercise lab): the learner's check's verdict, and `r`, which
reads the file again, checks it and replays the attack with it. A screen mixing this in holds
`exercise` (an hvlab.exercises.lab.ExerciseLab, or None) and `session`, and defines `show()`."""

from __future__ import annotations

from hvlab.session import Session
from hvlab.tui.plugins_pane import YOUR_FILE, PluginsPane
from hvlab.tui.timeline import Timeline


class ExerciseKeys:
    exercise = None

    def on_show(self) -> None:
        if self.exercise is not None and not getattr(self, "_told", False):
            self._told = True
            self.notify("\n".join(self.exercise.lines()), title="your check", timeout=12)

    def action_recheck(self) -> None:
        """Read the learner's file again, check it, and replay the attack with it (a worker:
        the check runs the model many times)."""
        if self.exercise is None or getattr(self, "_rechecking", False):
            return
        self._rechecking = True
        self.notify("Checking your file again…", timeout=3)
        self.run_worker(self._recheck, thread=True, exclusive=True, group="recheck")

    def _recheck(self) -> None:
        session = self.exercise.build()
        self.app.call_from_thread(self._rechecked, session)

    def _rechecked(self, session: Session) -> None:
        self._rechecking = False
        session.goto(min(self.session.cursor, session.lab.last))
        self.session = session
        self.query_one(Timeline).session = session
        passed = self.exercise.report is not None and self.exercise.report.ok
        for pane in self.query(PluginsPane):  # mounted once the tab was opened
            pane.show_plugin(YOUR_FILE)
        self.notify(
            "\n".join(self.exercise.lines()),
            title="your check",
            severity="information" if passed else "warning",
            timeout=12,
        )
        self.show()
