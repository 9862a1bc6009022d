"""Start-up: the lab's frame first, the run computed in a worker, keys pressed meanwhile kept."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

from hvlab.commands.common import UsageError
from hvlab.session import RunSpec, Session
from hvlab.tui.app import HvlabApp, Loaded
from hvlab.tui.frame import PLAIN_HEADER, Loading
from hvlab.tui.highlight import HEADER
from hvlab.tui.lab_screen import LabScreen
from tests.terminal import on_a_terminal


def gated(catalogue, **spec):
    """A loader that waits for `go` (set by the test) before it computes the run."""
    go = threading.Event()

    def load():
        assert go.wait(60), "the test never let the loader go"
        return Loaded(catalogue, Session(RunSpec(**spec), catalogue))

    return go, load


def lab_up(app) -> bool:
    """The lab is on screen: pushed and mounted (a test ending while it mounts would tear the
    app down under a half-mounted screen)."""
    return isinstance(app.screen, LabScreen) and app.screen.is_mounted


async def until(pilot, condition, tries: int = 400) -> bool:
    """Waits on the app's own progress (each pause lets its queue run), not on a clock."""
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


async def test_the_frame_comes_first_and_keys_pressed_meanwhile_reach_the_lab(catalogue):
    go, load = gated(catalogue, workload="ping")
    app = HvlabApp(loader=load)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, Loading)
        status = str(app.screen.query_one("#status").render())
        assert "computing the run" in status
        assert app.screen.query_one("#tabs")  # the lab's tabs are on the first frame
        await pilot.press("n", "n", "n")
        go.set()
        assert await until(pilot, lambda: lab_up(app))
        assert await until(pilot, lambda: app.screen.session.cursor == 2), app.screen.session.cursor


async def test_a_bad_option_found_while_loading_ends_the_app_with_code_2():
    def load():
        raise UsageError("unknown workload 'nope'; choose one of: boot, ping")

    app = HvlabApp(loader=load)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.load_error is not None)
    assert app.return_code == 2
    assert "unknown workload 'nope'" in str(app.load_error)


async def test_q_on_the_loading_frame_leaves_at_once(catalogue):
    go, load = gated(catalogue)
    app = HvlabApp(loader=load)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("q")
            assert await until(pilot, lambda: app.return_code is not None)
    finally:
        go.set()  # let the worker thread end
    assert isinstance(app.return_code, int) and app.return_code == 0


async def test_loading_messages_are_shown_and_kept_for_the_terminal(catalogue):
    def load():
        session = Session(RunSpec(), catalogue)
        return Loaded(catalogue, session, messages=["plugin 'x' failed to import: boom"])

    app = HvlabApp(loader=load)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await until(pilot, lambda: lab_up(app))
        await pilot.pause()
        shown = [n.message for n in app._notifications]
        assert any("plugin 'x' failed to import" in m for m in shown), shown
    assert app.load_messages == ["plugin 'x' failed to import: boom"]


def test_the_loading_frame_header_is_the_timelines():
    assert PLAIN_HEADER == HEADER


def test_the_first_frame_needs_no_model_plugins_or_lessons():
    """What the first frame waits for: Textual and the frame. The model, pluggy, the lessons,
    networkx and pygments load in the worker."""
    code = (
        "import sys\n"
        "import hvlab.cli, hvlab.commands.lab, hvlab.tui.app, hvlab.tui.frame\n"
        "hvlab.cli.build_parser().parse_args(['--attack', 'mitm-driver'])\n"
        "heavy = ('pluggy', 'networkx', 'pygments', 'hvlab.lessons', 'hvlab.session',\n"
        "         'hvlab.plugins', 'hvlab.model.core.engine', 'hvlab.model.scenarios')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_a_bad_option_on_a_terminal_is_one_line_and_exit_2(tmp_path):
    code, seen = on_a_terminal(["-m", "hvlab", "--workload", "nope"], tmp_path)
    assert code == 2, seen[-400:]
    assert b"Traceback" not in seen
    after = seen.rsplit(b"\x1b[?1049l", 1)[-1]  # what is printed once the lab's screen is gone
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", after.decode(errors="replace"))  # modes reset
    lines = [x for x in text.splitlines() if x.strip()]
    assert len(lines) == 1 and "nope" in lines[0] and lines[0].startswith("hvlab:"), lines
