"""The case studies' attacks, judged by the model: CVE-2013-3898's class (a hypercall parameter
the handler trusts) and CVE-2010-0026's class (an instruction encoding the hypervisor decodes
and must validate), each under the default design and with its protection off, and a positive
control that well-formed port accesses are unchanged by the decoder's check."""

from __future__ import annotations

import pytest

from hvlab.lab import Lab
from hvlab.model.core import canaries
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Design
from hvlab.model.hypervisor.constants import HvMessageType, HvStatus
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.hypervisor.portio import port_io
from hvlab.plugins import load_catalogue
from tests.helpers import booted

CAT = load_catalogue([], echo=False)
SDL = "sdl-input-validation"
A_PID = 2


def run(attack: str, *off: str) -> tuple[Lab, canaries.ProbeOutcome]:
    lab = Lab("boot", Design(frozenset(off)), attack=CAT.attacks[attack])
    return lab, lab.run().probe(attack)


def probe_events(lab: Lab, name: str):
    return [e for e in lab.events if e.scope == name]


# -- MS13-092, CVE-2013-3898: a crafted hypercall parameter --------------------------------------
def test_vp_frame_overwrite_is_refused_with_every_protection_on():
    lab, verdict = run("vp-frame-overwrite")
    assert verdict.result == "blocked" and verdict.protection == SDL
    assert verdict.status == HvStatus.INVALID_ALIGNMENT
    assert not lab.outcome.breaches
    assert CAT.attacks["vp-frame-overwrite"].tags == ("CVE-2013-3898",)


def test_vp_frame_overwrite_lands_on_bs_vp_frame_without_the_check():
    lab, verdict = run("vp-frame-overwrite", SDL)
    assert verdict.result == "breached" and verdict.canary == "pool:B"
    breach = next(e for e in probe_events(lab, "vp-frame-overwrite") if e.kind is EventKind.BREACH)
    frame = breach.detail_dict()["frame"]
    assert frame == 0xAA and lab.state.get(("frame", frame)) == ("pool:B", "vp")
    # the same handler's gap, aimed elsewhere: malformed-rep lands on B's partition frame
    other, _ = run("malformed-rep", SDL)
    first = next(e for e in other.events if e.kind is EventKind.BREACH)
    assert first.detail_dict()["frame"] == 0xA8 != frame


# -- MS10-010, CVE-2010-0026: a malformed instruction encoding -----------------------------------
def test_malformed_port_io_is_refused_with_ud_with_every_protection_on():
    lab, verdict = run("malformed-port-io")
    assert verdict.result == "blocked" and verdict.protection == SDL
    events = probe_events(lab, "malformed-port-io")
    fault = next(e for e in events if e.kind is EventKind.FAULT)
    assert fault.name == "#UD" and fault.protection == SDL and fault.detail_dict()["size"] == 3
    assert not any(e.kind is EventKind.INTERCEPT for e in events)  # nothing reached the root
    assert CAT.attacks["malformed-port-io"].tags == ("CVE-2010-0026",)


def test_malformed_port_io_stops_the_hypervisor_without_the_check():
    lab, verdict = run("malformed-port-io", SDL)
    assert verdict.result == "unavailable" and verdict.principal == "hypervisor"
    assert lab.outcome.result == "unavailable" and not lab.outcome.breaches
    events = probe_events(lab, "malformed-port-io")
    stop = next(e for e in events if e.name == canaries.HYPERVISOR_STOPPED)
    assert stop.kind is EventKind.INTERCEPT and stop.protection is None
    assert not any(e.status == HvMessageType.X64_IO_PORT_INTERCEPT for e in events)


@pytest.mark.parametrize("off", [(), (SDL,)], ids=["on", "off"])
@pytest.mark.parametrize("size", [1, 2, 4])
def test_a_well_formed_in_or_out_is_unchanged_by_the_decoders_check(off, size):
    """Positive control: a 1-, 2- or 4-byte access is intercepted to A's worker as before,
    whether the check is on or off, and gives the same answer."""
    results = []
    for design in ((), off):
        m = booted(*design)
        n = len(m.events)
        got = port_io(m, A_PID, 0x1F7, None, size, "A")
        port_io(m, A_PID, 0x1F2, bytes(size), size, "A")  # an OUT of the same size
        new = m.events[n:]
        names = [e.name for e in new]
        posted = [e for e in new if e.status == HvMessageType.X64_IO_PORT_INTERCEPT]
        assert len(posted) == 2 and posted[0].detail_dict()["size"] == size, names
        assert not any(e.kind is EventKind.FAULT or e.blocked for e in new), names
        assert canaries.HYPERVISOR_STOPPED not in names
        results.append(got)
    assert results[0] == results[1] == b"\x40" * size  # DRDY, from A's emulated controller


def test_the_string_form_is_still_served():
    for off in ((), (SDL,)):
        m = booted(*off)
        assert port_io(m, A_PID, 0x1F0, None, 512, "A") == bytes(512)
        assert not any(e.kind is EventKind.FAULT for e in m.events)


@pytest.mark.parametrize("size", [0, 3])
def test_only_the_malformed_sizes_are_decided_and_only_for_children(size):
    on, off = booted(), booted(SDL)
    assert port_io(on, A_PID, 0x1F7, None, size, "A") == b""
    assert port_io(off, A_PID, 0x1F7, None, size, "A") == b""
    assert [(e.kind, e.name, e.protection) for e in on.events[-1:]] == [
        (EventKind.FAULT, "#UD", SDL)
    ]
    assert [(e.kind, e.name) for e in off.events[-1:]] == [
        (EventKind.INTERCEPT, canaries.HYPERVISOR_STOPPED)
    ]
    assert canaries._verdict("p", list(off.events)[-1:]).result == "unavailable"
    root = booted(SDL)  # the root's own accesses drive the physical controller, undecoded
    n = len(root.events)
    port_io(root, ROOT_PID, 0x1F7, None, size, "root")
    assert [e.name for e in root.events[n:]] == ["port-in"]
