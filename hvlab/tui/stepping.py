"""What both lab views share: the keys that move through time and switch the design.

A screen using this holds a `Session` and implements `show()`, which redraws from it.
"""

from __future__ import annotations

import functools

from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer

from hvlab.session import Session, SessionError
from hvlab.tui.dialogs import Ask
from hvlab.tui.frame import STEP_BINDINGS  # noqa: F401 (the narration screen's keys too)


def learner_move(action):
    """A move of the learner's: refused while `may_move` says no (a lesson can ask for a
    prediction first)."""

    @functools.wraps(action)
    def guarded(self, *args):
        if self.may_move():
            action(self, *args)

    return guarded


SPEEDS = (1, 2, 5, 10, 25, 50)  # steps per second in play mode

# Global keys: priority, so that a focused list or table cannot swallow them.


class Stepping(Screen):
    """Base for the lab and narration screens."""

    class StepTaken(Message):
        """The cursor moved to `step` (-1: before the first event)."""

        def __init__(self, step: int) -> None:
            self.step = step
            super().__init__()

    class DesignSwitched(Message):
        """A replay under another design finished; `divergence` is where the runs part."""

        def __init__(self, protection: str | None, divergence) -> None:
            self.protection = protection
            self.divergence = divergence
            super().__init__()

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.speed = 2
        self._player: Timer | None = None

    # -- to be provided by the screen -------------------------------------------------------
    def show(self) -> None:
        raise NotImplementedError

    # -- moving -----------------------------------------------------------------------------
    def may_move(self) -> bool:
        """Whether the learner may move now (a lesson can ask for a prediction first)."""
        return True

    def moved(self) -> None:
        self.show()
        self.post_message(self.StepTaken(self.session.cursor))

    @learner_move
    def action_step(self) -> None:
        self.session.step()
        self.moved()

    @learner_move
    def action_back(self) -> None:
        self.session.back()
        self.moved()

    @learner_move
    def action_to_end(self) -> None:
        self.session.goto(self.session.lab.last)
        self.moved()

    @learner_move
    def action_rewind(self) -> None:
        self.session.goto(-1)
        self.moved()

    @learner_move
    def action_next_decision(self) -> None:
        self.pause("")  # playing on would step past the decision it lands on
        here = self.session.cursor
        if self.session.next_decision() == here:
            self.notify("No protection decides and nothing is breached after this step.")
        self.moved()

    @learner_move
    def action_divergence(self) -> None:
        if self.session.divergence is None:
            self.notify("No divergence: switch a protection first (t), or the runs are the same.")
            return
        self.session.goto(self.session.divergence.step)
        self.moved()

    @learner_move
    def action_jump(self) -> None:
        last = self.session.lab.last

        def done(answer: str | None) -> None:
            if answer is None or not answer.strip():
                return
            try:
                n = int(answer.strip(), 0)
            except ValueError:
                n = None
            if n is None or not -1 <= n <= last or not answer.strip().isascii():
                self.notify(f"'{answer}' is not a step number (-1 to {last})", severity="error")
                return
            self.session.goto(n)
            self.moved()

        self.app.push_screen(Ask(f"Jump to step (0 to {last}, -1 for the start):"), done)

    # -- play -------------------------------------------------------------------------------
    @learner_move
    def action_play(self) -> None:
        if self._player is not None:
            self.pause("paused")
            return
        if self.session.cursor >= self.session.lab.last:
            self.session.goto(-1)
        self._player = self.set_interval(self.interval(), self._tick)
        self.notify(f"playing at {1 / self.interval():.3g} steps/s; space pauses", timeout=2)

    def interval(self) -> float:
        """Seconds between steps in play: presenter mode's pace, else the chosen speed."""
        present = getattr(self, "present", None)
        return present if present else 1 / SPEEDS[self.speed]

    def pause(self, why: str) -> None:
        if self._player is not None:
            self._player.stop()
            self._player = None
            if why:
                self.notify(why, timeout=3)

    @property
    def playing(self) -> bool:
        return self._player is not None

    def _tick(self) -> None:
        if not self.may_move():
            self.pause("paused: make your prediction first (p)")
            return
        self.action_step()
        ev = self.session.event
        if self.session.cursor >= self.session.lab.last:
            self.pause("end of the run")
        elif ev is not None and (ev.blocked or ev.kind.value == "breach"):
            what = f"blocked by {ev.protection}" if ev.blocked else "BREACH"
            self.pause(f"paused at step {ev.step}: {what}")

    def _set_speed(self, delta: int) -> None:
        self.speed = max(0, min(len(SPEEDS) - 1, self.speed + delta))
        if getattr(self, "present", None):
            self.present = None  # the learner takes over the pace
        if self._player is not None:
            self._player.stop()
            self._player = self.set_interval(self.interval(), self._tick)
        self.notify(f"speed {SPEEDS[self.speed]} steps/s", timeout=2)

    def action_faster(self) -> None:
        self._set_speed(1)

    def action_slower(self) -> None:
        self._set_speed(-1)

    # -- the learner's moves ----------------------------------------------------------------
    def make_move(self, line: str) -> tuple[str, str]:
        """A line of the move line: a move, `undo`, or `help [ACTION]`. Returns (what, text):
        "made" with the reply, "error" (nothing changed), or "info" (help)."""
        from hvlab.model.scenarios.moves import MoveError, help_text, help_topic

        topic = help_topic(line)
        if topic is not None:
            try:
                return "info", help_text(topic)
            except MoveError as exc:
                return "error", str(exc)
        if line == "undo":
            gone = self.session.undo()
            if gone is None:
                return "error", "no move to take back"
            self.moved()
            self.after_move(None)
            return "made", f"took back move {gone.number} ({gone.line})"
        try:
            reply = self.session.do(line)
        except SessionError as exc:
            return "error", str(exc)
        self.report_plugin_errors()
        self.moved()
        self.after_move(reply)
        return "made", reply.describe()

    def after_move(self, reply) -> None:
        """Called once a move (or its undo, `reply` None) is drawn."""
        self.session.lab.finish()

    def action_undo_move(self) -> None:
        if not self.may_move():
            return
        gone = self.session.undo()
        if gone is None:
            self.notify("No move to take back: ':' makes one.")
            return
        self.moved()
        self.notify(f"Took back move {gone.number} ({gone.line}).")

    def action_judge(self) -> None:
        """Run the learner's moves under every design, off the UI thread, and report which
        protections stop them (the capstone's matrix)."""
        if not self.may_move():
            return
        if not self.session.spec.moves:
            self.notify("No move to judge yet: ':' makes one, then J judges it.")
            return
        if getattr(self, "_judging", False):
            self.notify("Still judging your moves…")
            return
        self._judging = True
        self.pause("paused while your moves are judged")
        self.notify("Judging your moves under every design…", timeout=3)
        self.run_worker(self._judge, thread=True, exclusive=True, group="judge")

    def _judge(self) -> None:
        try:
            judgement, error = self.session.judge(), None
        except SessionError as exc:
            judgement, error = None, str(exc)
        self.app.call_from_thread(self._judged, judgement, error)

    def _judged(self, judgement, error: str | None) -> None:
        self._judging = False
        if error is not None:
            self.notify(error, severity="error")
            return
        from hvlab.tui.dialogs import Report

        self.app.push_screen(Report("Your moves under every design", judgement.lines()))
        self.moved()  # a lesson's judged goal may be met now

    @learner_move
    def switch(self, change, protection: str | None) -> None:
        """Run `change()` (a toggle or a preset) against the session and report the result."""
        self.pause("paused for the replay")
        try:
            divergence = change()
        except SessionError as exc:
            self.notify(str(exc), severity="error")
            return
        self.report_plugin_errors()
        self.show()
        self.post_message(self.DesignSwitched(protection, divergence))
        collect = getattr(self.app, "collect_garbage", None)
        if collect is not None:  # the replayed run's garbage, after its frame
            self.call_after_refresh(collect)
        if divergence is None:
            self.notify("Replayed: the two runs are the same, event for event.")
        else:
            by = f", decided by {divergence.protection}" if divergence.protection else ""
            self.notify(
                f"Replayed (design: {self.session.design.label}). The runs part at step "
                f"{divergence.step}{by}. Outcome now: {self.session.lab.outcome.result}."
            )

    def action_toggle(self, protection: str) -> None:
        self.switch(lambda: self.session.toggle(protection), protection)

    def action_design(self) -> None:
        preset = self.session.next_preset()
        self.switch(lambda: self.session.set_preset(preset), None)

    def action_filter(self) -> None:
        def done(answer: str | None) -> None:
            if answer is None:
                return
            try:
                self.session.set_filter(answer)
            except SessionError as exc:
                self.notify(str(exc), severity="error")
                return
            shown = len(self.session.visible)
            self.notify(f"filter: {self.session.filter.describe()} ({shown} events)", timeout=3)
            self.show()

        self.app.push_screen(
            Ask(
                "Filter (actor=, partition=, kind=, channel=, plugin=, or a word; empty: all):",
                self.session.filter.describe() if self.session.filter.active else "",
                "partition=B kind=hypercall",
            ),
            done,
        )

    def report_plugin_errors(self) -> None:
        for error in self.session.new_errors():
            self.notify(error, title="plugin blocked", severity="error", timeout=10)

    def action_screenshot(self) -> None:
        from hvlab.userfiles import current_folder, reason, shown

        name = f"hvlab-{self.session.spec.workload}-step{self.session.cursor}.svg"
        try:
            path = self.app.save_screenshot(name, path=current_folder())
        except OSError as exc:
            self.notify(f"screenshot not saved: {reason(exc)}", severity="error")
            return
        self.notify(f"saved {shown(path)}")

    def action_help(self) -> None:
        from hvlab.tui.help import HelpScreen

        # the keys this screen offers now (an exercise's r, a lesson's p: only where they work)
        offered = [
            b
            for b in self.BINDINGS
            if getattr(b, "action", None) is None
            or self.check_action(b.action.split("(")[0], ()) is not False
        ]
        self.app.push_screen(HelpScreen(offered))

    async def action_quit(self) -> None:
        """q: the app's quit, as a binding of the screen (so a screen can set it aside while
        the learner types)."""
        await self.app.action_quit()

    def action_start_over(self) -> None:
        self.pause("")
        self.app.show_start(self.session.spec)

    def on_unmount(self) -> None:
        if self._player is not None:
            self._player.stop()
