"""The start screen: the lessons with their status, and a free lab (workload, attack, design)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, OptionList, Select, Static
from textual.widgets.option_list import Option

from hvlab.lessons.progress import Progress, ProgressError
from hvlab.lessons.schema import PARTS, Lesson
from hvlab.model.core.protections import PRESETS
from hvlab.plugins import Catalogue
from hvlab.session import RunSpec, Session, SessionError
from hvlab.tui.dialogs import Choose

NONE = "(no attack)"
STATUS_STYLE = {"new": "bold", "in-progress": "bold yellow", "done": "green"}


def course_map(lessons: list[Lesson]) -> list[tuple[str, list[Lesson]]]:
    """The lessons grouped by the part of the course each names, in the course's order of
    parts; lessons that name none come last, under no heading (all of them: one group)."""
    if not any(lesson.part for lesson in lessons):
        return [("", list(lessons))]
    groups = [(part, [x for x in lessons if x.part == part]) for part in PARTS]
    groups.append(("other lessons", [x for x in lessons if x.part not in PARTS]))
    return [(part, group) for part, group in groups if group]


class StartScreen(Screen):
    """Enter on a lesson opens it; r resets the highlighted lesson, R all (each asks first).
    Below, ctrl+o opens a free lab with the workload, attack and design chosen."""

    DEFAULT_CSS = """
    StartScreen { align: center top; }
    StartScreen > Vertical { width: 100; max-width: 100%; height: 1fr; padding: 0 1; }
    StartScreen #lessons { height: 1fr; min-height: 5; }
    StartScreen #free { height: auto; }
    StartScreen #free Select { width: 1fr; }
    StartScreen Label { color: $text-muted; }
    StartScreen Button { width: auto; min-width: 12; }
    """
    BINDINGS = [
        Binding("ctrl+o", "open", "Open the free lab", priority=True),
        Binding("r", "reset(False)", "Reset lesson"),
        Binding("R", "reset(True)", "Reset all"),
        Binding("q", "app.quit", "Quit"),
    ]
    AUTO_FOCUS = "#lessons"

    def __init__(
        self,
        catalogue: Catalogue,
        spec: RunSpec | None = None,
        *,
        lessons: list[Lesson] | None = None,
        progress: Progress | None = None,
    ) -> None:
        super().__init__()
        self.catalogue = catalogue
        self.spec = spec or RunSpec()
        self.lessons = list(lessons or [])
        self.progress = progress if progress is not None else Progress.in_memory()
        if not self.lessons:
            self.AUTO_FOCUS = "#open"

    def compose(self) -> ComposeResult:
        cat = self.catalogue
        with Vertical():
            yield Static(
                "[b]hvlab[/b] — how a Hyper-V style hypervisor keeps virtual machines apart. "
                "Pick a lesson (enter), or open a free lab below."
            )
            if self.progress.note:
                yield Static(Text(self.progress.note), id="progress-note")
            yield OptionList(id="lessons")
            with Horizontal(id="free"):
                yield Select(
                    [(w.name, w.name) for w in cat.workloads.values()],
                    value=self.spec.workload,
                    allow_blank=False,
                    compact=True,
                    id="workload",
                )
                yield Select(
                    [(NONE, NONE)] + [(a.name, a.name) for a in cat.attacks.values()],
                    value=self.spec.attack or NONE,
                    allow_blank=False,
                    compact=True,
                    id="attack",
                )
                yield Select(
                    [(name, name) for name in sorted(PRESETS)],
                    value=self.spec.preset if self.spec.preset in PRESETS else "hyperv",
                    allow_blank=False,
                    compact=True,
                    id="design",
                )
                yield Button("Open", variant="primary", id="open")
        yield Footer()

    def on_mount(self) -> None:
        self.list_lessons()

    def list_lessons(self) -> None:
        options = self.query_one("#lessons", OptionList)
        here = options.highlighted
        options.clear_options()
        first_open = None
        numbers = {lesson.id: n for n, lesson in enumerate(self.lessons, 1)}
        for part, lessons in course_map(self.lessons):
            if part:  # the course map: lessons under the part of the course they belong to
                options.add_option(Option(Text(part.upper(), style="bold cyan"), disabled=True))
            for lesson in lessons:
                status = self.progress.status(lesson.id)
                if first_open is None and status != "done":
                    first_open = options.option_count
                text = Text()
                text.append(f"{numbers[lesson.id]:>2}. ", style="dim")
                text.append(f"{status:<12}", style=STATUS_STYLE[status])
                text.append(lesson.title, style="bold")
                steps = len(lesson.steps)
                text.append(f"  {steps} step{'s' if steps != 1 else ''}", style="dim")
                missing = [p for p in lesson.prerequisites if self.progress.status(p) != "done"]
                if missing:
                    text.append(f"  (first: {', '.join(missing)})", style="dim")
                said = f"you will learn {lesson.learn}" if lesson.learn else lesson.summary
                text.append(f"\n    {said}", style="dim")
                options.add_option(Option(text, id=lesson.id))
        if not self.lessons:
            options.add_option(Option("No lessons found.", disabled=True))
        options.highlighted = here if here is not None else (first_open or 0)

    def highlighted_lesson(self) -> Lesson | None:
        options = self.query_one("#lessons", OptionList)
        if options.highlighted is None:
            return None
        chosen = options.get_option_at_index(options.highlighted).id
        return next((x for x in self.lessons if x.id == chosen), None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = [x for x in self.lessons if x.id == event.option.id]
        if chosen:
            self.app.open_lesson(chosen[0])

    def action_reset(self, everything: bool) -> None:
        lesson = self.highlighted_lesson()
        if lesson is None:
            return
        what = "ALL lessons" if everything else f"lesson '{lesson.title}'"

        def done(choice: int | None) -> None:
            if choice != 1:
                return
            try:
                self.progress.reset(None if everything else lesson.id)
            except ProgressError as exc:
                self.notify(str(exc), severity="error")
            else:
                self.notify(f"reset {what}" + (" (not saved)" if self.progress.read_only else ""))
            self.list_lessons()

        self.app.push_screen(
            Choose(f"Reset your progress in {what}? It cannot be undone.", ("No", "Yes, reset")),
            done,
        )

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "attack" and event.value in self.catalogue.attacks:
            workload = self.catalogue.attacks[event.value].workload
            self.query_one("#workload", Select).value = workload

    def chosen(self) -> RunSpec:
        attack = self.query_one("#attack", Select).value
        return RunSpec(
            workload=str(self.query_one("#workload", Select).value),
            attack=None if attack == NONE else str(attack),
            preset=str(self.query_one("#design", Select).value),
            seed=self.spec.seed,
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_open()

    def action_open(self) -> None:
        try:
            session = Session(self.chosen(), self.catalogue)
        except SessionError as exc:
            self.notify(str(exc), severity="error")
            return
        self.app.open_lab(session)
