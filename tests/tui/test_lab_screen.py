"""The lab screen driven by keys, checked against the lab API and the messages posted."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from textual.widgets import TabbedContent

from hvlab.lab import Lab
from hvlab.model.core.protections import Design
from hvlab.plugins import site_handler
from hvlab.tui.compare import Compare
from hvlab.tui.help import HelpScreen
from hvlab.tui.lab_screen import LabScreen
from hvlab.tui.protections import Protections
from hvlab.tui.stepping import Stepping
from hvlab.tui.timeline import Timeline
from hvlab.tui.topology import Topology
from tests.tui.conftest import lab_app

SIZE = (120, 40)


def rendered(widget, width: int = 160) -> str:
    """The plain text a Static shows now."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


def reference(catalogue, workload="ping", attack="mitm-driver", design=None) -> Lab:
    return Lab(
        workload,
        design or Design.preset("hyperv"),
        attack=catalogue.attack(attack) if attack else None,
        workloads=catalogue.workloads,
        site_handler=site_handler(catalogue),
        defenses=catalogue.extra_protections,
    )


async def test_step_back_and_jump_agree_with_the_lab_api(catalogue, recorder):
    app = lab_app(catalogue, workload="ping", attack="mitm-driver")
    ref = reference(catalogue)
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        session = app.session
        assert session.cursor == -1
        await pilot.press("n", "n", "n", "right", "n")
        assert session.cursor == 4
        assert session.lab.state.digest() == ref.state_at(4).digest()
        await pilot.press("b", "left")
        assert session.cursor == 2
        assert session.lab.state.digest() == ref.state_at(2).digest()
        await pilot.press("j")
        await pilot.press(*"300", "enter")
        assert session.cursor == 300
        assert session.lab.state.digest() == ref.state_at(300).digest()
        await pilot.press("e")
        assert session.cursor == ref.last
        await pilot.press("home")
        assert session.cursor == -1
        steps = [m.step for m in recorder.of(Stepping.StepTaken)]
        assert steps == [0, 1, 2, 3, 4, 3, 2, 300, ref.last, -1]


async def test_a_bad_jump_is_refused_with_a_message_and_the_cursor_stays(catalogue):
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "j", *"ten", "enter")
        assert app.session.cursor == 1
        assert any("not a step number" in n.message for n in app._notifications)
        await pilot.press("j", "escape")
        assert app.session.cursor == 1


async def test_next_decision_stops_where_a_protection_decides(catalogue):
    app = lab_app(catalogue, workload="ping", attack="mitm-driver")
    ref = reference(catalogue)
    first = next(ev.step for ev in ref.events if ev.blocked)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        assert app.session.cursor == first
        assert app.session.event.protection == ref.outcome.probes[0].protection
        path = rendered(app.screen.query_one("#path"))
        assert "✗ blocked by no-third-party-code" in path


async def test_switching_a_protection_replays_and_shows_the_divergence(catalogue, recorder):
    app = lab_app(catalogue, workload="ping", attack="mitm-driver")
    before = reference(catalogue)
    after = reference(catalogue, design=Design.build("hyperv", ["guest-traffic-via-root"]))
    expected = before.compare(after)
    assert expected is not None and expected.protection == "guest-traffic-via-root"
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await pilot.press("t")
        protections = app.screen.query_one(Protections)
        assert app.screen.focused is protections
        index = app.session.protections.index("guest-traffic-via-root")
        protections.highlighted = index
        await pilot.press("enter")
        await pilot.pause()
        session = app.session
        assert session.switched == "guest-traffic-via-root"
        assert not session.design.is_on("guest-traffic-via-root")
        assert session.divergence == expected
        assert session.lab.digest == after.digest
        assert app.screen.query_one(TabbedContent).active == "compare"
        shown = rendered(app.screen.query_one(Compare))
        assert f"part at step {expected.step}, decided by guest-traffic-via-root" in shown
        assert "root.vswitch" in shown and "hypervisor.vswitch" in shown
        switched = recorder.of(Stepping.DesignSwitched)
        assert [(m.protection, m.divergence.step) for m in switched] == [
            ("guest-traffic-via-root", expected.step)
        ]
        await pilot.press("g")
        assert session.cursor == expected.step
        # switching it back on replays the original run again
        protections.highlighted = index
        protections.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert session.lab.digest == before.digest


async def test_the_design_key_cycles_presets_and_a_breach_shows(catalogue):
    app = lab_app(catalogue, workload="ping", attack="mitm-driver")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert app.session.spec.preset == "monolithic"
        assert app.session.lab.outcome.result == "breached"
        assert "breached" in rendered(app.screen.query_one("#status"))
        await pilot.press("d")
        assert app.session.spec.preset == "hyperv"


async def test_filters_narrow_the_timeline_and_stepping(catalogue):
    app = lab_app(catalogue, workload="ping")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f", *"partition=B kind=hypercall", "enter")
        session = app.session
        visible = session.visible
        assert 0 < len(visible) < len(session.lab.events)
        for step in visible:
            ev = session.lab.events[step]
            assert ev.kind.value == "hypercall"
            d = ev.detail_dict()
            # B acts, is the partition acted on, or is the one a message or signal goes to
            assert "B" in (d.get("partition") or ev.actor.split(".")[0], d.get("to"))
        await pilot.press("n", "n")
        assert session.cursor == visible[1]
        assert app.screen.query_one(Timeline).virtual_size.height == len(visible)
        await pilot.press("f", *"colour=red", "enter")
        assert session.visible == visible  # a bad filter leaves the old one in place
        assert any("unknown filter field 'colour'" in n.message for n in app._notifications)
        await pilot.press("f", "ctrl+u", "enter")
        assert not session.filter.active
        assert len(session.visible) == len(session.lab.events)


async def test_clicking_a_timeline_line_jumps_there(catalogue, recorder):
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=SIZE, message_hook=recorder) as pilot:
        await pilot.click(Timeline, offset=(10, 7))
        assert app.session.cursor == 7
        assert [m.step for m in recorder.of(Timeline.StepChosen)] == [7]


async def test_play_runs_and_pauses_at_the_first_decision(catalogue):
    app = lab_app(catalogue, workload="ping", attack="mitm-driver")
    ref = reference(catalogue)
    first = next(ev.step for ev in ref.events if ev.blocked)
    async with app.run_test(size=SIZE) as pilot:
        app.session.goto(first - 6)
        screen = app.screen
        await pilot.press("plus")  # 10 steps/s: still playing when the key press returns
        assert screen.speed == 3
        await pilot.press("space")
        assert screen.playing
        for _ in range(100):
            await pilot.pause(0.05)
            if not screen.playing:
                break
        assert not screen.playing
        assert app.session.cursor == first
        await pilot.press("minus", "minus", "minus", "minus")
        assert screen.speed == 0  # and no lower


async def test_tabs_help_and_start_over(catalogue):
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.screen.query_one(TabbedContent)
        for key, name in zip(
            "12345", ("detail", "memory", "protections", "compare", "plugins"), strict=True
        ):
            await pilot.press(key)
            assert tabs.active == name
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(rendered(w) for w in app.screen.query("Static"))
        lab = app.screen_stack[-2]
        for binding in LabScreen.BINDINGS:
            offered = lab.check_action(binding.action.split("(")[0], ()) is not False
            # the help lists the keys this screen offers: not a lesson's or an exercise's here
            assert ((binding.tooltip or binding.description) in shown) == offered, binding
        await pilot.press("escape")
        assert isinstance(app.screen, LabScreen)
        await pilot.press("o")
        await pilot.pause()
        assert type(app.screen).__name__ == "StartScreen"


def test_every_binding_names_an_action_that_exists():
    for binding in LabScreen.BINDINGS:
        action = binding.action.split("(")[0]
        if action.startswith("app."):
            continue
        assert hasattr(LabScreen, f"action_{action}"), binding
        assert binding.priority, f"{binding.key} must work whatever has focus"


async def test_screenshot_key_writes_an_svg(catalogue, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "s")
    (shot,) = tmp_path.glob("*.svg")
    assert shot.name == "hvlab-boot-step0.svg"
    assert shot.read_text().lstrip().startswith("<svg")


async def test_quit(catalogue):
    app = lab_app(catalogue, workload="boot")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_layouts_at_the_smallest_and_a_large_terminal(catalogue, size):
    app = lab_app(catalogue, workload="ping", attack="mitm-driver")
    async with app.run_test(size=size) as pilot:
        await pilot.press("x")
        screen = app.screen
        narrow = size[0] < 110
        assert screen.has_class("-narrow") is narrow
        diagram = screen.query_one(Topology)
        assert diagram.display and diagram.compact is narrow  # a small terminal: compact form
        assert "hypervisor" in rendered(diagram)
        assert screen.query_one(Timeline).size.height >= 5
        # the path stays readable even where the topology is hidden
        assert "blocked by" in rendered(screen.query_one("#path"))
        assert screen.failures == []


def screen_rows(app) -> list[str]:
    """The text of each row as drawn on screen (from Textual's SVG export, grouped by y)."""
    import html
    import re

    rows: dict[float, list[tuple[float, str]]] = {}
    svg = app.export_screenshot()
    for x, y, text in re.findall(r'<text[^>]*x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(text).replace("\xa0", " ")))
    return ["".join(t for _, t in sorted(parts)) for _, parts in sorted(rows.items())]


async def test_the_cursor_mark_follows_each_step_on_screen(catalogue):
    app = lab_app(catalogue, workload="ping", attack="mitm-driver")
    async with app.run_test(size=SIZE) as pilot:
        app.session.goto(300)
        app.screen.show()
        await pilot.pause()
        for _ in range(4):
            await pilot.press("n")
            marked = [row for row in screen_rows(app) if row.startswith(">")]
            assert len(marked) == 1, marked
            assert re.match(r">\s*(\d+)", marked[0]).group(1) == str(app.session.cursor), marked
