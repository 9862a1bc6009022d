"""TUI benchmarks, each against a bare Textual app measured in the same run.

    start: process start → first frame drawn, hvlab (`hvlab --workload ping --attack
           mitm-driver`, which also loads plugins and computes the run; and plain `hvlab` on
           the first lesson) vs. a hello-world app; the lab's Textual widgets alone; and those
           widgets after the model's start-up work (imports, plugins, the run)
    step:  the step key → the frame redrawn, with 8 partitions × 1,024 pages in the address-space
           pane on screen, vs. a key that updates one label in a bare app

Both apps run headless (Textual renders every frame as on a terminal, to no output).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _report_first_frame(app, run_on_screen: bool = False) -> None:
    """Print the monotonic clock when the app's first frame is out (`run_on_screen`: the
    first frame of the lab holding its run), then leave at once.

    `App._display` is Textual's private frame output; headless it skips encoding the frame for
    a terminal, so the hook does that too, as a real terminal would need."""
    display = app._display

    def first(screen, renderable):
        if renderable is not None and (
            not run_on_screen or getattr(screen, "session", None) is not None
        ):
            renderable.render_segments(app.console)
            print(time.monotonic(), flush=True)
            os._exit(0)
        display(screen, renderable)

    app._display = first


def skeleton_app():
    """The lab screen's Textual widgets — grid, panes, tabs with lazy panes, footer — holding
    plain text, and no hvlab code: what Textual alone costs to show a screen like the lab."""
    from textual.app import App
    from textual.containers import Vertical, VerticalScroll
    from textual.lazy import Lazy
    from textual.screen import Screen
    from textual.widgets import Footer, Static, TabbedContent, TabPane

    class Lab(Screen):
        DEFAULT_CSS = (
            "Lab { layout: grid; grid-size: 2; grid-columns: 1fr 46; grid-rows: 1 1fr 1; }"
        )

        def compose(self):
            yield Static("status")
            with Vertical():
                yield Static("step  time  actor  kind  name")
                yield Static("\n".join(f"{i:5}  event {i}" for i in range(40)))
            with Vertical():
                yield Static("path")
                with TabbedContent(initial="t1"):
                    with TabPane("1 Detail", id="t1"), VerticalScroll():
                        yield Static("detail")
                    for n in range(2, 6):
                        with TabPane(f"{n} Pane", id=f"t{n}"):
                            yield Lazy(Static(str(n)))
            yield Footer()

    class Skeleton(App):
        def on_mount(self):
            self.push_screen(Lab())

    return Skeleton()


ATTACK_ARGS = ["--workload", "ping", "--attack", "mitm-driver"]


def start_child(which: str) -> None:
    if which == "bare":
        from textual.app import App
        from textual.widgets import Static

        class Hello(App):
            def compose(self):
                yield Static("Hello, world")

        app = Hello()
    elif which == "skeleton":
        app = skeleton_app()
    elif which == "model-work":  # the attack row's work before its lab, then the skeleton
        from hvlab.cli import build_parser
        from hvlab.commands.lab import lab_session

        lab_session(build_parser().parse_args(ATTACK_ARGS))
        app = skeleton_app()
    else:  # as `hvlab` opens on a terminal: the frame, then the run from a worker
        from hvlab.cli import build_parser
        from hvlab.commands.lab import loader, names_run
        from hvlab.tui.app import HvlabApp

        # "lesson": plain `hvlab` with no progress yet, the first lesson; "-run": the lab
        # holding its run, not the loading frame
        args = build_parser().parse_args([] if which.startswith("lesson") else ATTACK_ARGS)
        app = HvlabApp(loader=loader(args), loading_lesson=not names_run(args))
    _report_first_frame(app, run_on_screen=which.endswith("-run"))
    app.run(headless=True, size=(120, 40))


def start_seconds(whiches: list[str], repeat: int) -> dict[str, float]:
    """Median seconds from spawning the process to its first frame, for each app. The apps
    start in turns (each round starting one further along), so a busy spell on a shared
    machine slows an app and its baseline alike. CLOCK_MONOTONIC is shared by all processes on
    Linux, so the child's clock reading is comparable."""
    samples: dict[str, list[float]] = {which: [] for which in whiches}
    with tempfile.TemporaryDirectory() as data:  # a learner with no progress yet
        env = {**os.environ, "HVLAB_DATA_DIR": data}
        for round_ in range(repeat):
            for i in range(len(whiches)):
                which = whiches[(round_ + i) % len(whiches)]
                t0 = time.monotonic()
                done = subprocess.run(
                    [sys.executable, __file__, "--start", which],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=env,
                )
                samples[which].append(float(done.stdout.split()[-1]) - t0)
    return {which: statistics.median(times) for which, times in samples.items()}


# -- step latency ----------------------------------------------------------------------------
def big_memory(partitions: int = 8, pages: int = 1024) -> dict:
    """A state with `partitions` guests of `pages` mapped pages each, over their own frames."""
    data: dict = {("parts",): tuple(range(1, partitions + 1))}
    frame = 0
    for pid in range(1, partitions + 1):
        name = "root" if pid == 1 else f"G{pid}"
        data[("part", pid, "name")] = name
        data[("part", pid, "gpa_pages")] = pages
        for gpa in range(pages):
            data[("frame", frame)] = (name, "ram")
            data[("slat", pid, gpa)] = (frame, "rwx")
            frame += 1
    return data


def _note_frames(app, frames: list[float]) -> None:
    """Append the clock to `frames` as each frame is done, encoding it for a terminal first."""
    display = app._display

    def timed_display(screen, renderable):
        if renderable is not None:
            renderable.render_segments(app.console)
            frames.append(time.perf_counter())
        display(screen, renderable)

    app._display = timed_display


async def _press_times(app, key: str, presses: int, before=None) -> list[float]:
    """Seconds from a key press to the first frame drawn after it.

    Headless, Textual computes each frame but skips encoding it for the terminal; the hook
    below does that work too (as a real terminal would need) and notes when the frame is done.
    `App._display` is Textual's private frame output: a benchmark may lean on it, tests do not.
    """
    samples = []
    frames: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        if before:
            await before(pilot)
        await pilot.pause()
        _note_frames(app, frames)
        for _ in range(presses):
            frames.clear()
            t0 = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            if frames:
                samples.append(frames[0] - t0)
    if len(samples) < presses:
        raise RuntimeError(f"{presses - len(samples)} key presses drew no frame")
    return samples


def step_seconds(presses: int) -> tuple[float, float]:
    """Median seconds per step key → frame: (hvlab, bare app)."""
    from textual.app import App
    from textual.widgets import Static

    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session
    from hvlab.tui.app import HvlabApp
    from hvlab.tui.lab_screen import LabScreen

    memory = big_memory()

    class BigLab(LabScreen):
        def memory_data(self):
            return memory

    class BigApp(HvlabApp):
        def open_lab(self, session):
            self.push_screen(BigLab(session))

    class Counter(App):
        BINDINGS = [("n", "step", "Step")]

        def compose(self):
            yield Static("0", id="n")

        def action_step(self):
            label = self.query_one("#n", Static)
            label.update(str(int(str(label.content)) + 1))

    cat = load_catalogue([], echo=False)
    session = Session(RunSpec("busy"), cat)

    async def memory_tab(pilot):
        await pilot.press("2")

    hv = asyncio.run(_press_times(BigApp(cat, session), "n", presses, memory_tab))
    bare = asyncio.run(_press_times(Counter(), "n", presses))
    return statistics.median(hv), statistics.median(bare)


async def _move_times(app, line: str, samples: int) -> tuple[list, list, list]:
    """Per sample: seconds from enter on the move line to the first frame drawn (the reply), to
    the frame after the rest of the run is computed, and a step key → frame in the same lab.
    Each move is taken back before the next, so each forks the same run."""
    from hvlab.tui.move_line import MoveInput, MoveLine

    first, complete, steps = [], [], []
    frames: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        session = app.session
        middle = session.lab.last // 2
        _note_frames(app, frames)
        for _ in range(samples):
            session.goto(middle)
            await pilot.press("colon")
            await pilot.pause()
            if not app.screen.query_one(MoveLine).is_open:
                raise RuntimeError("':' did not open the move line")
            app.screen.query_one(MoveInput).value = line
            await pilot.pause()
            frames.clear()
            t0 = time.perf_counter()
            await pilot.press("enter")
            await pilot.pause()
            while not session.lab.finished:
                await pilot.pause()
            await pilot.pause()
            if len(session.spec.moves) != 1 or not frames:
                raise RuntimeError(f"the move '{line}' was not made")
            first.append(frames[0] - t0)
            complete.append(frames[-1] - t0)
            await pilot.press("escape")
            await pilot.press("u")
            await pilot.pause()
            frames.clear()
            t0 = time.perf_counter()
            await pilot.press("n")
            await pilot.pause()
            if frames:
                steps.append(frames[0] - t0)
    return first, complete, steps


def move_seconds(samples: int, only: tuple[str, ...] = ()) -> dict[str, tuple[float, float, float]]:
    """Per shipped workload (or those `only` names), at its middle step: p95 seconds of a move
    → its reply's frame, → the frame with the whole run, and p95 of a step key → frame in the
    same lab."""
    from hvlab.model.scenarios.workloads import WORKLOADS
    from hvlab.plugins import load_catalogue
    from hvlab.session import RunSpec, Session
    from hvlab.tui.app import HvlabApp

    cat = load_catalogue([], echo=False)
    out = {}
    for name in only or WORKLOADS:
        app = HvlabApp(cat, Session(RunSpec(name), cat))
        first, complete, steps = asyncio.run(_move_times(app, "A: read 0x1000", samples))
        out[name] = (p95(first), p95(complete), p95(steps))
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--start":
        start_child(sys.argv[2])
