"""The session the TUI draws: replays, divergence, filters — without any Textual."""

from __future__ import annotations

import pytest

from hvlab.lab import Lab
from hvlab.model.core.protections import Design
from hvlab.plugins import load_catalogue
from hvlab.session import RunSpec, Session, SessionError
from hvlab.trace_filter import TraceFilter


@pytest.fixture(scope="module")
def cat():
    return load_catalogue([], echo=False)


def test_toggling_twice_returns_to_the_same_run_and_preset(cat):
    s = Session(RunSpec("ping", "mitm-driver"), cat)
    first = s.lab.digest
    s.goto(100)
    div = s.toggle("guest-traffic-via-root")
    assert s.spec.off == ("guest-traffic-via-root",) and s.spec.preset == "hyperv"
    assert div is not None and div.protection == "guest-traffic-via-root"
    assert s.cursor == 100  # the replay lands on the same step
    s.toggle("guest-traffic-via-root")
    assert s.spec == RunSpec("ping", "mitm-driver") and s.lab.digest == first


def test_a_toggle_that_changes_nothing_reports_no_divergence(cat):
    s = Session(RunSpec("boot"), cat)
    assert s.toggle("iommu-dma-protection") is None  # boot makes no device DMA
    assert s.baseline is not None and s.baseline.digest == s.lab.digest


def test_a_design_that_matches_a_preset_is_named_after_it(cat):
    s = Session(RunSpec("ping", "mitm-driver", preset="monolithic"), cat)
    mono = Design.build("monolithic", [], cat.extra_protections)
    (pid, *_) = sorted(mono.off)
    s.toggle(pid)
    assert s.spec.preset == "hyperv" and set(s.spec.off) == mono.off - {pid}
    s.toggle(pid)
    assert s.spec.preset == "monolithic" and s.spec.off == ()


def test_presets_cycle_and_unknown_ids_are_refused(cat):
    s = Session(RunSpec("boot"), cat)
    assert s.next_preset() == "monolithic"
    s.set_preset("monolithic")
    assert s.next_preset() == "hyperv"
    with pytest.raises(SessionError, match="unknown protection 'nope'"):
        s.toggle("nope")
    with pytest.raises(SessionError, match="unknown design 'nope'"):
        s.set_preset("nope")
    with pytest.raises(SessionError, match="unknown attack 'nope'"):
        Session(RunSpec("boot", "nope"), cat)
    with pytest.raises(SessionError, match="unknown workload 'nope'"):
        Session(RunSpec("nope"), cat)


def test_filtered_stepping_visits_exactly_the_matching_events(cat):
    s = Session(RunSpec("ping"), cat)
    s.set_filter("actor=root.vswitch")
    wanted = [ev.step for ev in s.lab.events if ev.actor == "root.vswitch"]
    assert s.visible == wanted
    seen = []
    while s.step() not in seen:
        seen.append(s.cursor)
    assert seen == wanted
    back = []
    while s.back() != -1:
        back.append(s.cursor)
    assert back == wanted[-2::-1]


def test_next_decision_finds_refusals_and_breaches(cat):
    blocked = Session(RunSpec("ping", "mitm-driver"), cat)
    breached = Session(RunSpec("ping", "mitm-driver", preset="monolithic"), cat)
    assert blocked.lab.events[blocked.next_decision()].blocked
    step = breached.next_decision()
    while breached.lab.events[step].kind.value != "breach":
        step = breached.next_decision()
    assert step == breached.lab.outcome.probes[0].step
    breached.goto(breached.lab.last)
    assert breached.next_decision() == breached.lab.last


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("colour=red", "unknown filter field 'colour'"),
        ("actor=", "needs a value"),
    ],
)
def test_bad_filters_say_what_is_wrong(text, error):
    with pytest.raises(ValueError, match=error):
        TraceFilter.parse(text)


def test_filter_fields():
    lab = Lab("ping")
    f = TraceFilter.parse("channel=net kind=vsp")
    hits = [ev for ev in lab.events if f.matches(ev)]
    assert hits and all(ev.kind.value == "vsp" for ev in hits)
    assert all(
        any("net-channel" in n for n in ev.path) or "relid" in ev.detail_dict() for ev in hits
    )
    alternatives = TraceFilter.parse("actor=A actor=B")
    assert {ev.actor.split(".")[0] for ev in lab.events if alternatives.matches(ev)} == {"A", "B"}
    word = TraceFilter.parse("HvCallPostMessage")
    assert all(ev.name == "HvCallPostMessage" for ev in lab.events if word.matches(ev))


def test_a_move_before_its_guest_exists_is_refused_and_says_press_e(cat):
    """At step -1 there is no guest A: the move would fork there and do nothing. It is refused
    before it is made, naming where A is created and the key that gets there."""
    session = Session(RunSpec("boot"), cat)
    session.goto(-1)
    for line in ("A: read 0x1000", "root: map A 0x30000 0xd8000 rw"):
        with pytest.raises(
            SessionError,
            match=r"no partition A at step -1 \(it is created at step \d+\): close this line "
            r"\(Esc\), press e",
        ):
            session.do(line)
    assert session.spec.moves == ()
    session.goto(session.lab.last)
    assert session.do("A: read 0x1000").describe()  # at the end it is made
    assert len(session.spec.moves) == 1
