"""A handful of SVG snapshots (Textual is pinned in the test extras, so they stay comparable).
Update after a deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`."""

from __future__ import annotations

import pytest

from hvlab.plugins import load_catalogue
from hvlab.session import RunSpec, Session
from hvlab.tui.app import HvlabApp


@pytest.fixture(scope="module")
def cat():
    return load_catalogue([], echo=False)


def app_for(cat, workload, attack=None, narrate=False):
    return HvlabApp(cat, Session(RunSpec(workload, attack), cat), narrate=narrate)


def test_the_lab_at_the_refusal(snap_compare, cat):
    app = app_for(cat, "ping", "mitm-driver")
    assert snap_compare(app, press=["x"], terminal_size=(120, 40))


def test_the_lab_at_80_by_24(snap_compare, cat):
    app = app_for(cat, "ping", "mitm-driver")
    assert snap_compare(app, press=["x"], terminal_size=(80, 24))


def test_compare_after_switching_a_protection_off(snap_compare, cat):
    app = app_for(cat, "ping", "mitm-driver")

    async def switch(pilot):
        await pilot.press("x")
        pilot.app.screen.action_toggle("guest-traffic-via-root")
        await pilot.press("4")

    assert snap_compare(app, run_before=switch, terminal_size=(120, 40))


def test_a_refused_guest_access_in_the_memory_pane(snap_compare, cat):
    app = app_for(cat, "memory-probe")
    assert snap_compare(app, press=["x", "2"], terminal_size=(120, 40))


def monolithic_breach(cat):
    return HvlabApp(cat, Session(RunSpec("ping", "mitm-driver", "monolithic"), cat))


async def to_the_breach(pilot):
    session = pilot.app.session
    session.goto(next(e.step for e in session.lab.events if e.kind.value == "breach"))
    pilot.app.screen.show()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_diagram_at_the_mitm_breach_under_monolithic(snap_compare, cat, size):
    """The path through the hypervisor's vswitch to the loaded driver, on the diagram."""
    assert snap_compare(monolithic_breach(cat), run_before=to_the_breach, terminal_size=size)


def test_the_diagram_under_hyperv_at_the_refusal_of_the_driver(snap_compare, cat):
    app = app_for(cat, "ping", "mitm-driver")
    assert snap_compare(app, press=["x"], terminal_size=(80, 24))


def test_the_memory_tab_marks_bs_frame_at_the_mitm_breach(snap_compare, cat):
    async def memory(pilot):
        await to_the_breach(pilot)
        await pilot.press("2")

    assert snap_compare(monolithic_breach(cat), run_before=memory, terminal_size=(120, 40))
