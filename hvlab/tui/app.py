"""The hvlab Textual app: the lessons and the free lab, the lab screen, narration mode."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.app import App

from hvlab.userfiles import printable

if TYPE_CHECKING:  # the model loads in a worker, after the first frame (see `Loaded`)
    from hvlab.lessons.progress import Progress
    from hvlab.lessons.runner import LessonRun
    from hvlab.lessons.schema import Lesson
    from hvlab.plugins import Catalogue
    from hvlab.session import RunSpec, Session


@dataclass
class Loaded:
    """What a loader (run in a worker thread while the first frame is on screen) hands the app:
    the catalogue, and the run (`session`) or the lessons with the learner's progress and,
    when the first lesson is known, its run computed (`lesson_run`). `messages`: what loading
    had to say (a plugin or lesson file that did not load, a progress file mended) — shown as
    notifications and printed once the terminal is back."""

    catalogue: Catalogue
    session: Session | None = None
    lessons: list = field(default_factory=list)
    progress: Progress | None = None
    lesson_run: LessonRun | None = None
    messages: list[str] = field(default_factory=list)


class HvlabApp(App):
    """Opens on the lab when given a session, on a lesson when given one, and otherwise on the
    first unfinished lesson (or the start screen when there are no lessons)."""

    TITLE = "hvlab"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide"), (150, "-xwide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        catalogue: Catalogue | None = None,
        session: Session | None = None,
        *,
        narrate: bool = False,
        lessons: list[Lesson] | None = None,
        progress: Progress | None = None,
        lesson: Lesson | None = None,
        at_step: int | None = None,
        present: float | None = None,
        progress_dir=None,
        loader: Callable[[], Loaded] | None = None,
        loading_lesson: bool = False,
        exercise=None,
    ) -> None:
        """`loader`: compute what to open in a worker while the lab's empty frame is on screen
        (`loading_lesson`: that frame has the lesson pane); its UsageError ends the app with
        exit code 2 and stays in `load_error` for the caller to report."""
        super().__init__()
        self.loader = loader
        self.loading_lesson = loading_lesson
        self.exercise = exercise  # hvlab exercise lab: an ExerciseLab, its verdict on screen
        self.load_error: BaseException | None = None
        self.load_messages: list[str] = []
        self._loading = None
        self._first_run: LessonRun | None = None
        self.progress_dir = progress_dir  # served: ask the student's name, keep progress there
        self.at_step = at_step
        self.present = present
        self.catalogue = catalogue
        self.first_session = session
        self.narrate = narrate
        self.lessons = list(lessons or [])
        self.progress = progress
        if progress is None and loader is None:
            from hvlab.lessons.progress import Progress

            self.progress = Progress.in_memory()
        self.first_lesson = lesson
        if lesson is None and session is None and self.lessons:
            self.first_lesson = self.first_unfinished()

    def collect_garbage(self) -> None:
        gc.collect()

    def on_mount(self) -> None:
        self._watch_terminal()
        # A full garbage collection scans every event of every run kept (~0.1 s once a few
        # runs are held). Left to the allocator it lands on whatever frame is being drawn —
        # often a move's reply. The lab runs it itself once a move's frames are out
        # (`collect_garbage`), and every half minute in case nothing else did.
        first, second, _full = gc.get_threshold()
        gc.set_threshold(first, second, 1_000_000)
        self.set_interval(30, self.collect_garbage)
        if self.loader is not None:
            from hvlab.tui.frame import Loading

            what = "the lesson's run" if self.loading_lesson else "the run"
            self._loading = Loading(self._start_loading, lesson=self.loading_lesson, what=what)
            self.push_screen(self._loading)
            return
        self.open_first()

    def open_first(self) -> None:
        if self.progress_dir is not None and self.first_session is None:
            self.ask_name()
        else:
            self.begin()

    # -- start-up: the frame first, the model in a worker -----------------------------------
    def _start_loading(self) -> None:
        self.run_worker(self._load, thread=True, exit_on_error=False, name="load")

    def _load(self) -> None:  # in the worker thread: nothing here touches a widget
        try:
            loaded = self.loader()
        except BaseException as exc:  # a bad option (UsageError) or a bug: reported after exit
            self.call_from_thread(self._load_failed, exc)
            return
        self.call_from_thread(self._loaded, loaded)

    def _load_failed(self, exc: BaseException) -> None:
        from hvlab.commands.common import UsageError

        self.load_error = exc
        self.exit(return_code=2 if isinstance(exc, UsageError) else 1)

    def _loaded(self, loaded: Loaded) -> None:
        self.catalogue = loaded.catalogue
        self.first_session = loaded.session
        self.lessons = list(loaded.lessons)
        self.progress = loaded.progress
        if self.progress is None:
            from hvlab.lessons.progress import Progress

            self.progress = Progress.in_memory()
        self._first_run = loaded.lesson_run
        if loaded.lesson_run is not None:
            self.first_lesson = loaded.lesson_run.lesson
        elif self.first_session is None and self.lessons:
            self.first_lesson = self.first_unfinished()
        self.load_messages = list(loaded.messages)
        for message in loaded.messages:
            self.notify(message, title="loading", severity="warning", timeout=12)
        queued = self._loading.queued if self._loading is not None else []
        self._loading = None
        self.open_first()
        if queued:
            self.call_after_refresh(self._replay_keys, list(queued))

    def _replay_keys(self, keys: list) -> None:
        """The keys pressed on the loading frame, on the lab, one per frame (a key may move
        the focus, which takes effect before the next)."""
        if not keys:
            return
        self.post_message(keys[0])
        if keys[1:]:
            self.call_after_refresh(self._replay_keys, keys[1:])

    def ask_name(self, problem: str = "") -> None:
        """A served session with --progress-dir: the student's progress is theirs by name."""
        from hvlab.lessons.progress import Progress, student_name
        from hvlab.tui.dialogs import Ask

        def done(answer: str | None) -> None:
            if answer is None:  # escape: go on without keeping anything
                self.begin()
                return
            try:
                student_name(answer)
            except ValueError as exc:
                self.ask_name(str(exc))
                return
            self.progress = Progress.of_student(self.progress_dir, answer)
            self.first_lesson = self.first_unfinished()
            self.begin()

        question = "Your name, to keep your progress (letters, digits and dashes; escape: none):"
        self.push_screen(Ask(f"{problem}\n{question}" if problem else question, "", "ada-l"), done)

    def first_unfinished(self) -> Lesson | None:
        return self.progress.first_unfinished(self.lessons)

    def begin(self) -> None:
        if self.progress.note:
            self.notify(self.progress.note, title="progress", timeout=12)
        for notice in self.progress.notices:
            self.notify(notice, title="progress", severity="warning", timeout=12)
        if self.first_session is not None:
            self.open_lab(self.first_session)
        elif self.first_lesson is not None:
            self.open_lesson(self.first_lesson)
        else:
            self.show_start()

    def show_start(self, spec: RunSpec | None = None) -> None:
        from hvlab.tui.start import StartScreen

        self._show(StartScreen(self.catalogue, spec, lessons=self.lessons, progress=self.progress))

    def _show(self, screen) -> None:
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def open_lab(self, session: Session) -> None:
        if self.narrate:
            from hvlab.tui.narration_screen import NarrationScreen

            screen = NarrationScreen(session)
        else:
            from hvlab.tui.lab_screen import LabScreen

            screen = LabScreen(session, present=self.present, exercise=self.exercise)
        self.sub_title = session.spec.describe()
        self._show(screen)

    def open_lesson(self, lesson: Lesson) -> None:
        from hvlab.lessons.runner import LessonRun
        from hvlab.tui.lab_screen import LabScreen

        entry = self.progress.get(lesson.id)
        step = min(entry.step, len(lesson.steps) - 1)
        if entry.status == "new":
            entry.status = "in-progress"
        run, self._first_run = self._first_run, None  # computed by the loader, or now
        if run is None or run.lesson is not lesson or run.index != step:
            run = LessonRun(lesson, self.catalogue, step)
        if self.at_step is not None:  # a trace file's moment
            run.session.goto(self.at_step)
            self.at_step = None
        lessons = self.lessons
        number = f"{lessons.index(lesson) + 1}/{len(lessons)}" if lesson in lessons else ""
        self.sub_title = lesson.title
        if self.narrate:
            from hvlab.tui.narration_screen import NarrationScreen

            screen = NarrationScreen(run.session, lesson=run, progress=self.progress)
        else:
            screen = LabScreen(
                run.session, lesson=run, progress=self.progress, number=number, present=self.present
            )
        self._show(screen)

    def _watch_terminal(self) -> None:
        """Leave at once when the terminal goes away. Under `make run`, closing the terminal
        hangs up make, not the app, and Textual then spins on the dead tty; its orderly exit
        would write to that tty too. Every change of progress is already on disk."""
        import os
        import signal
        import sys

        with contextlib.suppress(ValueError):  # not the main thread (tests): no handler
            signal.signal(signal.SIGHUP, lambda *_: os._exit(128 + signal.SIGHUP))
        try:
            tty = os.ttyname(sys.__stdin__.fileno())
        except (OSError, AttributeError, ValueError):
            return  # no terminal (tests, hvlab serve): nothing to watch
        self.set_interval(2, lambda: os.path.exists(tty) or os._exit(128 + signal.SIGHUP))

    def notify(self, message: str, *, title: str = "", severity="information", timeout=None,
               markup: bool = False) -> None:  # fmt: skip
        """Notifications are plain text, never markup, with control characters escaped: they
        carry text from lesson files, plugins and the learner's own typing, where a `[` is not
        a style and an escape sequence is not for the terminal."""
        super().notify(
            printable(str(message)),
            title=printable(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    @property
    def session(self) -> Session | None:
        return getattr(self.screen, "session", None)
