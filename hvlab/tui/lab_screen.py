"""The lab: the trace on the left; the architecture and the tabs on the right.

Every pane is redrawn from the session after each move; a pane that fails to draw says so in
place and in a notification, and the session — the state — is untouched.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.lazy import Lazy
from textual.widgets import Footer, Static, TabbedContent, TabPane

from hvlab.lessons.progress import Progress
from hvlab.lessons.runner import LessonRun
from hvlab.model.scenarios.move_language import CHILD_NAMES
from hvlab.narration import narrate
from hvlab.session import Session
from hvlab.tui.compare import Compare
from hvlab.tui.detail import EventDetail
from hvlab.tui.exercise_keys import ExerciseKeys
from hvlab.tui.frame import TABS, LabFrame
from hvlab.tui.highlight import HEADER, header, highlight
from hvlab.tui.lesson_keys import LessonKeys
from hvlab.tui.lesson_pane import LessonPane
from hvlab.tui.memory import AddressSpaces
from hvlab.tui.move_line import MoveInput, MoveLine
from hvlab.tui.plugins_pane import PluginsPane
from hvlab.tui.protections import Protections
from hvlab.tui.stepping import Stepping
from hvlab.tui.timeline import Timeline
from hvlab.tui.topology import Topology, path_line


def status_line(session: Session, conceal: bool = False, exercise: str = "") -> Text:
    """The step, how the run ends (`conceal`: not before a prediction is committed), the
    filter and the run; `exercise`: the learner's check's verdict, first."""
    lab = session.lab
    text = Text(no_wrap=True, overflow="ellipsis")
    if exercise:
        passed = exercise.endswith("PASS")
        text.append(f" {exercise} ", style="bold black on green" if passed else "bold white on red")
    if not lab.finished:  # just after a move: the rest of the run is being computed
        text.append(f" step {lab.cursor}/… ", style="bold reverse")
        text.append(" computing the rest of the run… ", style="bold")
        text.append(f" {session.spec.describe()} ")
        return text
    text.append(f" step {lab.cursor}/{lab.last} ", style="bold reverse")
    if conceal:
        text.append(" run ends: ? (predict first: p) ", style="bold magenta")
    else:
        result = lab.outcome.result
        style = {"breached": "bold white on red", "blocked": "bold black on green"}.get(
            result, "bold"
        )
        text.append(f" run ends: {result} ", style=style)
    if session.filter.active:
        text.append(f" filter: {session.filter.describe()} ", style="black on yellow")
    text.append(f" {session.spec.describe()} ")
    return text


def caption(session: Session) -> Text:
    """Presenter mode's caption: the step in one plain sentence, large on a projector."""
    ev = session.event
    if ev is None:
        return Text("Before the first step.", style="bold")
    style = (
        "bold white on red"
        if ev.kind.value == "breach"
        else "bold black on green"
        if ev.blocked  # a protection held: good news, not an alarm
        else "bold"
    )
    return Text(narrate(ev, len(session.lab.events)), style=style)


class LabScreen(ExerciseKeys, LessonKeys, LabFrame, Stepping):  # LabFrame first: its CSS applies
    """Keys (all in the footer and on the help screen, all working whatever has focus):
    n/→ step, b/← back, j jump, e/end run to the end, home start, x next decision,
    space play/pause, +/- speed, t protections, d design, f filter, g divergence,
    : make a move as a partition, u undo the last move, y the event's GPA onto the move line,
    1-5 tabs, s screenshot, ? help, o new run, q quit."""

    def __init__(
        self,
        session: Session,
        *,
        lesson: LessonRun | None = None,
        progress: Progress | None = None,
        number: str = "",
        present: float | None = None,
        exercise=None,
        **kwargs,
    ) -> None:
        super().__init__(lesson.session if lesson else session, **kwargs)
        self.present = present
        self.exercise = exercise  # an hvlab.exercises.lab.ExerciseLab: `r` checks it again
        self.hold_lesson(lesson, progress)
        self.number = number
        self.failures: list[str] = []
        self._memory_steps: dict[int, list[int]] = {}
        self._path_lines = -1
        self._header_widths: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Vertical(id="left"):
            yield Static(highlight(HEADER), id="trace-header")
            yield Timeline(self.session, id="timeline")
            yield Topology(id="topology")
        with Vertical(id="right"):
            yield Static(id="path")
            if self.lesson is not None:
                with VerticalScroll(id="lesson-scroll"):
                    yield LessonPane(id="lesson")
            with TabbedContent(id="tabs", initial="detail"):
                with TabPane("1 Detail", id="detail"):
                    yield EventDetail(id="event-detail")
                # mounted just after the first frame: start-up draws only what is on screen
                with TabPane("2 Memory", id="memory"):
                    yield Lazy(AddressSpaces(id="address-spaces"))
                with TabPane("3 Protections", id="protections"):
                    yield Lazy(Protections(id="protection-list"))
                with TabPane("4 Compare", id="compare"):
                    yield Lazy(VerticalScroll(Compare(id="compare-view")))
                with TabPane("5 Plugins", id="plugins"):
                    yield Lazy(
                        PluginsPane(
                            self.session.catalogue, id="plugins-pane", exercise=self.exercise
                        )
                    )
        if self.present is not None:
            yield Static(id="caption")
        yield MoveLine(self.make_move, id="move-line")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_class(self.lesson is not None, "-lesson")
        self.set_class(self.present is not None, "-present")
        if self.present is not None and self.session.cursor < 0:
            # a room watches the attack, not the boot before it (home goes to the start)
            first = next((ev.step for ev in self.session.lab.events if ev.scope), None)
            if first is not None:
                self.session.goto(first - 1)
                self.notify(f"Starting at step {first}, where the attack begins; home: the boot.")
        self.show()
        if self.present is not None:
            self.call_after_refresh(self.action_play)
        self.report_plugin_errors()
        self.query_one(Timeline).focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self.label_tabs)  # once the right column has its new width
        self.show()

    def label_tabs(self) -> None:
        """ "1 Detail … 5 Plugins" where the five fit; the names alone in a narrower right
        column (the keys 1-5 still choose them; the help says so)."""
        tabs = self.query_one(TabbedContent)
        room = tabs.size.width or self.query_one("#right").size.width
        numbered = sum(len(name) + 4 for name in TABS) <= room  # "n Name", a cell each side
        for i, name in enumerate(TABS, 1):
            label = f"{i} {name.title()}" if numbered else name.title()
            tab = tabs.get_tab(name)
            if str(tab.label) != label:
                tab.label = label
                tab.refresh(layout=True)  # its width is its label's

    def show(self) -> None:
        """Redraw what is on screen from the session; tabs not shown are drawn when opened."""
        s = self.session
        ev = s.event
        # fixed one-line panes: no new layout for them
        status = self.query_one("#status", Static)
        conceal = self.prediction_pending
        extra = self.exercise.short_status() if self.exercise is not None else ""
        self.draw("status", lambda: status.update(status_line(s, conceal, extra), layout=False))
        timeline = self.query_one(Timeline)
        self.draw("timeline", lambda: timeline.show(s, conceal))
        if timeline.widths != self._header_widths:  # the header follows the columns
            self._header_widths = timeline.widths
            head = self.query_one("#trace-header", Static)
            head.update(highlight(" " + header(*timeline.widths)), layout=False)
        topology = self.query_one(Topology)
        topology.compact = self.has_class("-narrow") or self.has_class("-short")
        if topology.display:
            drivers = self.loaded_drivers()
            if self.playing:  # the hop moves along the path within the step's time
                self.draw(
                    "topology",
                    lambda: topology.reveal(ev, s.design, drivers, self.interval() * 0.8),
                )
            else:
                self.draw("topology", lambda: topology.show(ev, s.design, drivers))
        self.draw("path", lambda: self.show_path(ev))
        if self.lesson is not None:
            self.draw("lesson", self.show_lesson)
        if self.present is not None:
            self.draw("caption", lambda: self.query_one("#caption", Static).update(caption(s)))
        tab = self.query_one(TabbedContent).active
        if tab == "detail":
            total = len(s.lab.events)
            self.draw("detail", lambda: self.query_one(EventDetail).show(ev, total))
        elif tab == "memory":
            width = self.query_one("#right").size.width - 2  # less the scroll bar
            pane = self.query_one(AddressSpaces)
            key = self.memory_key()
            self.draw("memory", lambda: pane.show(self.memory_data(), ev, width, key))
        elif tab == "protections":
            self.draw("protections", lambda: self.query_one(Protections).show(s, ev))
        elif tab == "compare":
            self.draw("compare", lambda: self.query_one(Compare).show(s, conceal))

    # -- the lesson (keys in LessonKeys) -----------------------------------------------------
    def show_lesson(self) -> None:
        self.announce_goal()
        self.query_one(LessonPane).show(self.lesson, self.entry(), self.number)

    def lesson_changed(self) -> None:
        self.query_one("#lesson-scroll").scroll_home(animate=False)

    def action_lesson_scroll(self, direction: int) -> None:
        pane = self.query_one("#lesson-scroll")
        pane.scroll_to(y=pane.scroll_y + direction * max(1, pane.size.height - 1), animate=False)

    def action_write_trace(self) -> None:
        """Write this moment as a trace file into the current folder (`hvlab replay FILE`)."""

        from hvlab import tracefile
        from hvlab.userfiles import current_folder, reason, shown

        lesson = self.lesson.lesson.id if self.lesson else ""
        index = self.lesson.index if self.lesson else 0
        moment = tracefile.moment_of(self.session, lesson=lesson, lesson_step=index)
        name = f"hvlab-{moment.workload}-step{moment.step}{tracefile.SUFFIX}"
        try:
            path = Path(current_folder()) / name
            tracefile.write(path, moment)
        except OSError as exc:
            self.notify(f"trace file not saved: {reason(exc)}", severity="error")
            return
        self.notify(f"saved {shown(path)}: open it anywhere with hvlab replay {path.name}")

    # -- the learner's moves (the `:` line) -------------------------------------------------
    def action_move_line(self) -> None:
        if not self.may_move():
            return
        self.pause("paused for a move")
        history = self.app.__dict__.setdefault("move_history", [])
        loaded = sorted(
            {f"{k[1]}.driver:{k[2]}" for k in self.session.lab.state.data if k[0] == "driver"}
        )
        last = self.session.spec.moves[-1][1].partition(":")[0] if self.session.spec.moves else "A"
        self.query_one(MoveLine).open(last, tuple(loaded), history)
        self.add_class("-moving")  # a small screen gives the lesson's text the tabs' rows

    def action_offer_gpa(self) -> None:
        """y: the guest-physical address the current event touches, onto the move line as a
        read by the partition that touched it (edit it into a write, a map, …)."""
        ev = self.session.event
        detail = ev.detail_dict() if ev is not None else {}
        gpa = detail.get("gpa")
        if not isinstance(gpa, int):
            self.notify("This step touches no guest-physical address: step to a memory access.")
            return
        self.action_move_line()
        line = self.query_one(MoveLine)
        if not line.is_open:
            return
        who = detail.get("partition")
        who = who if who in ("root", *CHILD_NAMES) or ".driver:" in str(who) else line.principal
        field = self.query_one(MoveInput)
        field.value = f"{who}: read {gpa:#x}"
        field.cursor_position = len(field.value)

    def check_action(self, action: str, parameters) -> bool | None:
        """While the move line has focus, keys are for typing: the lab's bindings step aside."""
        if isinstance(self.focused, MoveInput):
            return False
        if action == "play" and isinstance(self.focused, Protections):
            return False  # space switches the highlighted protection there
        if action == "recheck":
            return self.exercise is not None
        return super().check_action(action, parameters)

    def hint_given(self, text: str) -> None:
        """The lesson pane shows the hint (a notification would cover dialogs and repeat it)."""
        self.query_one("#lesson-scroll").scroll_end(animate=False)

    def on_move_line_closed(self, _message: MoveLine.Closed) -> None:
        self.remove_class("-moving")
        self.query_one(Timeline).focus()

    def after_move(self, reply) -> None:
        """The reply is on screen: now the rest of the run, after this frame."""
        if reply is not None and not self.session.lab.finished:
            self.call_after_refresh(self.finish_run, reply.number)
        else:
            self.call_after_refresh(self.app.collect_garbage)

    def finish_run(self, number: int) -> None:
        """After a move's frame: compute the rest of the run, redraw, and correct the reply if
        events after it (in the move's name) changed the oracle's verdict."""
        lab = self.session.lab
        if lab.finished or number > len(lab.moves):
            return
        lab.finish()
        self.report_plugin_errors()
        self.show()
        self.query_one(MoveLine).revise(self.session.reply(number).describe())
        self.call_after_refresh(self.app.collect_garbage)

    def show_path(self, ev) -> None:
        pane = self.query_one("#path", Static)
        text = path_line(ev, self.session.design)
        lines = (text.cell_len // max(1, pane.size.width - 2)) + 1 if pane.size.width else 0
        pane.update(text, layout=lines != self._path_lines)
        self._path_lines = lines

    def loaded_drivers(self) -> tuple[tuple[str, str], ...]:
        """(where, name) of each driver loaded at the cursor: the diagram draws them in place."""
        return tuple(sorted((k[1], k[2]) for k in self.session.lab.state.data if k[0] == "driver"))

    def memory_key(self):
        """Names the memory layout at the cursor: the last step that changed frames or maps."""
        lab = self.session.lab
        steps = self._memory_steps.get(id(lab))
        if steps is None:
            steps = [
                ev.step
                for ev in lab.events
                if any(c[0][0] in ("frame", "slat", "part", "parts") for c in ev.changes)
            ]
            self._memory_steps = {id(lab): steps}
        return (id(lab), bisect_right(steps, lab.cursor))

    def memory_data(self):
        """The state the address-space pane draws (the benchmark swaps in a bigger machine)."""
        return self.session.lab.state.data

    def draw(self, pane: str, paint) -> None:
        try:
            paint()
        except Exception as exc:  # one pane failing must not take the lab down
            message = f"the {pane} pane failed to draw: {type(exc).__name__}: {exc}"
            self.failures.append(message)
            self.notify(message, title="display error", severity="error", timeout=8)

    # -- panes talking back -----------------------------------------------------------------
    def on_timeline_step_chosen(self, message: Timeline.StepChosen) -> None:
        if not self.may_move():  # a click moves in time as a key does
            return
        self.session.goto(message.step)
        self.moved()

    def on_protections_toggled(self, message: Protections.Toggled) -> None:
        self.action_toggle(message.protection)
        self.query_one(TabbedContent).active = "compare"

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # the side-by-side view and the plugin source need room: the right side widens for them
        self.set_class(event.pane.id in ("compare", "plugins"), "-roomy")
        self.set_class(event.pane.id == "protections", "-choosing")  # small screens: more rows
        self.call_after_refresh(self.label_tabs)  # the right column's width changed
        self.show()

    def action_protections(self) -> None:
        self.query_one(TabbedContent).active = "protections"
        listing = self.query_one(Protections)
        listing.focus()
        if listing.highlighted is None and listing.option_count:
            listing.highlighted = 0
        self.notify("↑/↓ picks a protection; enter or space switches it and replays.", timeout=4)

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = name
