"""A failing pane or plugin is reported and the lab goes on; nothing of the session is lost."""

from __future__ import annotations

import textwrap

from hvlab.plugins import load_catalogue
from hvlab.session import RunSpec, Session
from hvlab.tui.app import HvlabApp
from hvlab.tui.topology import Topology
from tests.tui.conftest import lab_app

RAISING = """
from hvlab.hookspecs import hookimpl

@hookimpl
def hvlab_lab_started(info):
    raise RuntimeError("lab_started exploded")
"""


async def test_a_pane_that_raises_is_reported_and_stepping_goes_on(catalogue, monkeypatch):
    def broken(self, *_args):
        raise ValueError("cannot draw this")

    monkeypatch.setattr(Topology, "show", broken)
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n")
        assert app.is_running
        assert app.session.cursor == 2
        failures = app.screen.failures
        assert failures and all("topology pane failed to draw" in f for f in failures)
        assert any("cannot draw this" in n.message for n in app._notifications)
        # the other panes still follow the cursor
        assert "step 2 of" in app.screen.query_one("#event-detail").plain


async def test_a_raising_plugin_is_blocked_and_shown(tmp_path):
    plugin = tmp_path / "exploding.py"
    plugin.write_text(textwrap.dedent(RAISING))
    cat = load_catalogue([str(plugin)], echo=False)
    session = Session(RunSpec("boot"), cat)
    app = HvlabApp(cat, session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = [n.message for n in app._notifications]
        assert any("exploding" in m and "lab_started exploded" in m for m in shown), shown
        assert cat.manager.is_blocked("exploding")
        await pilot.press("n", "d")  # stepping and a replay still work without the plugin
        await pilot.pause()
        assert app.session.cursor == 0
        assert app.session.spec.preset == "monolithic"
