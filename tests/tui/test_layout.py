"""At 80×24, 120×40 and 160×48, with and without a lesson open, nothing the lab needs is cut:
every column header and every event's status in the timeline for every shipped workload and
attack, every tab label, and the footer's keys (at 80 columns with a lesson, the keys a learner
needs at each step)."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey
from textual.widgets._tabbed_content import ContentTab

from hvlab.lessons import bundled_dir, load_lessons
from hvlab.lessons.progress import Progress
from hvlab.lessons.runner import known_ids
from hvlab.session import RunSpec, Session
from hvlab.tui.app import HvlabApp
from hvlab.tui.highlight import event_text, header, short_status
from hvlab.tui.lab_screen import LabScreen
from hvlab.tui.timeline import Timeline

SIZES = [(80, 24), (120, 40), (160, 48)]
COLUMNS = ("step", "actor", "kind", "what", "status")
ESSENTIAL = {"Step", "Back", "Help", "Quit", "Protections", "Predict", "Next step", "Move"}


@pytest.fixture(scope="module")
def runs(catalogue) -> dict[str, Session]:
    """Every shipped workload alone, and every shipped attack on its own workload."""
    found = {w: Session(RunSpec(workload=w), catalogue) for w in catalogue.workloads}
    for name, attack in catalogue.attacks.items():
        found[name] = Session(RunSpec(workload=attack.workload, attack=name), catalogue)
    return found


def first_lesson(catalogue):
    lessons, _ = load_lessons([bundled_dir()], known_ids(catalogue))
    return lessons[0]


def statuses(session: Session):
    """One event of each (actor, status): what the columns must hold."""
    seen = {}
    for ev in session.lab.events:
        seen.setdefault((ev.actor, short_status(ev)), ev)
    return seen.values()


@pytest.mark.parametrize("lesson", [False, True], ids=["lab", "lesson"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_header_status_tab_or_needed_key_is_cut(catalogue, runs, size, lesson):
    if lesson:
        app = HvlabApp(catalogue, lessons=[first_lesson(catalogue)], progress=Progress.in_memory())
    else:
        app = HvlabApp(catalogue, runs["boot"])
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LabScreen) and (screen.lesson is not None) == lesson
        timeline = screen.query_one(Timeline)
        width = timeline.scrollable_content_region.width
        for name, session in runs.items():
            timeline.show(session)  # the columns this run gets in this layout
            head = " " + header(*timeline.widths)
            for column in COLUMNS:
                assert head.find(column) + len(column) <= width, (name, column, head[:width])
            for ev in statuses(session):
                status = short_status(ev)
                line = " " + event_text(ev, *timeline.widths).plain  # the mark, then the row
                assert status in line[:width], (name, ev.step, status, line[:width])

        for tab in screen.query(ContentTab):
            label = tab.label.plain
            assert tab.region.right <= size[0] and tab.region.width >= len(label), label
        keys = {k.description: k.region for k in screen.query(FooterKey)}
        shown = {d for d, r in keys.items() if r.width and r.right <= size[0]}
        if size[0] >= 120 or not lesson:
            assert shown == set(keys), set(keys) - shown
        else:  # 80 columns and a lesson: the keys of every step still there
            assert shown >= ESSENTIAL, ESSENTIAL - shown


def test_every_status_the_model_can_give_fits_its_column():
    """Beyond the shipped runs: a plugin's run may end on any status or message type."""
    from hvlab.model.hypervisor.constants import HvMessageType, HvStatus
    from hvlab.tui.highlight import STATUS_SHORT

    names = [s.name for s in HvStatus] + [
        m.label.removeprefix("HvMessageType") for m in HvMessageType
    ]
    too_long = [n for n in names if len(STATUS_SHORT.get(n, n)) > 10]
    assert not too_long


async def test_a_prediction_fits_a_small_browser_terminal(catalogue):
    """`hvlab serve` at a large font gives a terminal of about 64×20: the question and every
    choice are whole on screen."""
    from hvlab.tui.dialogs import Choose

    lessons, _ = load_lessons([bundled_dir()], known_ids(catalogue))
    lesson = next(x for x in lessons if any(s.predict for s in x.steps))
    app = HvlabApp(catalogue, lessons=[lesson], lesson=lesson, progress=Progress.in_memory())
    async with app.run_test(size=(64, 20)) as pilot:
        await pilot.pause()
        while not app.screen.lesson.step.predict:
            await pilot.press("right_square_bracket")
        await pilot.press("p")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, Choose)
        box = dialog.query_one("Vertical").region
        assert box.x >= 0 and box.right <= 64 and box.bottom <= 20, box
        options = dialog.query_one("OptionList")
        assert options.option_count == len(dialog.choices)
        assert options.region.bottom <= 20 and options.region.right <= 64


async def test_the_diagram_is_drawn_at_the_width_the_layout_gives_it(catalogue):
    """Drawn once before the layout settles (at a guessed width), it must be drawn again at
    its own: else the screen wraps its boxes (seen with a long path numbered on them)."""
    from hvlab.session import RunSpec, Session
    from hvlab.tui.app import HvlabApp
    from hvlab.tui.topology import Topology

    session = Session(RunSpec("disk-read"), catalogue)
    longest = max(session.lab.events, key=lambda e: len(e.path))
    session.goto(longest.step)
    app = HvlabApp(catalogue, session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        topo = app.screen.query_one(Topology)
        width = topo.content_region.width
        assert topo._drawn is not None and topo._drawn[4] == width
        drawn = topo.render()
        assert max(len(line) for line in str(drawn).splitlines()) <= width


async def test_at_80_by_24_t_gives_the_protections_list_room(catalogue, runs):
    """Choosing a protection in a small terminal: the diagram gives its rows to the list, so
    several protections show at once (it showed two), and they come back on another tab."""
    from hvlab.tui.protections import Protections
    from hvlab.tui.topology import Topology

    app = HvlabApp(catalogue, runs["boot"])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.query_one(Topology).display
        await pilot.press("t")
        await pilot.pause()
        listing = screen.query_one(Protections)
        assert not screen.query_one(Topology).display
        assert listing.region.height >= 10, listing.region  # two rows a protection: 4 or more
        await pilot.press("1")  # the Detail tab: the diagram is back
        await pilot.pause()
        assert screen.query_one(Topology).display


async def test_at_80_by_24_typing_a_move_leaves_the_steps_text_in_sight(catalogue):
    """The move line covers the bottom rows: with a lesson open in a small terminal the tabs
    give theirs up, so more of the step's text (what to type) shows above the line (one line
    of it did), and they come back when the line closes."""
    from hvlab.tui.move_line import MoveLine

    lesson = first_lesson(catalogue)
    app = HvlabApp(catalogue, lessons=[lesson], lesson=lesson, progress=Progress.in_memory())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("p", "2")  # the tour's first step asks first
        await pilot.press("colon")
        await pilot.pause()
        line, pane = screen.query_one(MoveLine), screen.query_one("#lesson-scroll")
        assert line.is_open
        visible = min(pane.region.bottom, line.region.y) - pane.region.y
        assert visible >= 8, (pane.region, line.region)
        await pilot.press("escape")
        await pilot.pause()
        assert screen.query_one("#tabs").display
