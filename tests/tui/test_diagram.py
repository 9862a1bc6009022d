"""The architecture diagram: laid out from the topology, the path drawn on it, within width."""

from __future__ import annotations

import pytest
from rich.console import Console

from hvlab.lab import Lab
from hvlab.model.core.protections import Design
from hvlab.plugins import load_catalogue, site_handler
from hvlab.tui.diagram import BLOCKED, CROSSED, boxes, draw, draw_compact

CAT = load_catalogue([], echo=False)


def run(design: str, attack: str | None = "mitm-driver") -> Lab:
    return Lab(
        "ping",
        Design.build(design, [], CAT.extra_protections),
        attack=CAT.attack(attack) if attack else None,
        site_handler=site_handler(CAT),
        defenses=CAT.extra_protections,
    )


def box_of(design: str, node: str, drivers=()) -> str:
    parts, hv, hardware = boxes(Design.preset(design), drivers)
    for box in (*parts, hv, hardware):
        if any(n == node for row in box.rows for n, _ in row):
            return box.boundary
    raise AssertionError(f"{node} is in no box")


def test_the_layout_follows_the_topology_not_a_fixed_picture():
    assert box_of("hyperv", "root.vswitch") == "root"
    assert box_of("monolithic", "hypervisor.vswitch") == "hypervisor"
    assert box_of("monolithic", "hypervisor.driver-loader") == "hypervisor"
    assert box_of("hyperv", "A.storvsc") == "A" and box_of("hyperv", "root.vmwp-B") == "root"
    assert box_of("hyperv", "root.driver:spy", (("root", "spy"),)) == "root"
    assert box_of("monolithic", "hypervisor.driver:mitm", (("hypervisor", "mitm"),)) == "hypervisor"


def styled(text, needle: str) -> set[str]:
    """The styles of the spans that cover the first occurrence of `needle`."""
    start = text.plain.index(needle)
    return {str(s.style) for s in text.spans if s.start <= start < s.end}


def test_the_breach_path_is_numbered_through_the_vswitch_to_the_driver():
    lab = run("monolithic")
    ev = next(e for e in lab.events if e.kind.value == "breach")
    lab.goto(ev.step)
    drivers = tuple((k[1], k[2]) for k in lab.state.data if k[0] == "driver")
    text = draw(ev, lab.design, 78, drivers)
    plain = text.plain
    assert "1:net-chan" in plain and "2:vswitch" in plain and "!:drv:mitm" in plain
    assert BLOCKED in styled(text, "!:drv:mitm")
    assert CROSSED in styled(text, " child B ") and CROSSED in styled(text, " hypervisor ")
    assert " child A " in plain and CROSSED not in styled(text, " child A ")


def test_a_refused_hop_ends_on_a_cross():
    lab = run("hyperv")
    ev = next(e for e in lab.events if e.blocked)
    text = draw(ev, lab.design, 78)
    assert "✗:hypervisor" in text.plain and BLOCKED in styled(text, "✗:hypervisor")


def test_hops_reveal_the_path_one_at_a_time():
    lab = run("monolithic")
    ev = next(e for e in lab.events if e.kind.value == "breach")
    first = draw(ev, lab.design, 78, hops=1).plain
    assert "1:net-chan" in first and "2:vswitch" not in first and "drv:mitm" not in first


@pytest.mark.parametrize("width", [60, 78, 100, 150])
def test_every_line_fits_the_width(width):
    lab = run("monolithic")
    for ev in lab.events[::97]:
        for line in draw(ev, lab.design, width).plain.splitlines():
            assert len(line) <= width, (width, line)
        compact = draw_compact(ev, lab.design, width)
        wrapped = compact.wrap(Console(width=width), width)
        assert all(line.cell_len <= width for line in wrapped)
        assert len(wrapped) <= 6


async def test_the_pane_falls_back_to_the_compact_form_where_the_boxes_do_not_fit(tmp_path):
    from hvlab.lessons import bundled_dir, load_lessons
    from hvlab.lessons.progress import Progress
    from hvlab.lessons.runner import known_ids
    from hvlab.tui.app import HvlabApp
    from hvlab.tui.topology import Topology

    lessons, _ = load_lessons([bundled_dir()], known_ids(CAT))
    app = HvlabApp(CAT, lessons=lessons[:1], progress=Progress.open(tmp_path / "p.toml"))
    async with app.run_test(size=(120, 40)) as pilot:  # a lesson: the left column is narrow
        await pilot.pause()
        pane = app.screen.query_one(Topology)
        width = pane.size.width
        lines = pane.content.wrap(app.console, width)
        assert all(line.cell_len <= width for line in lines)
        assert "hypervisor" in pane.content.plain and len(lines) == pane.size.height
