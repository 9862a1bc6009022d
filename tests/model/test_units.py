"""Unit tests for the small pieces: input-value coding, physical memory, SynIC, the VID, events."""

from hypothesis import given
from hypothesis import strategies as st

from hvlab.model.core import canaries
from hvlab.model.core.events import EventKind
from hvlab.model.core.store import Store
from hvlab.model.hypervisor import memory, synic
from hvlab.model.hypervisor.constants import (
    MSR_GUEST_OS_ID,
    MSR_HYPERCALL,
    PAGE_SIZE,
    HvCallCode,
    HvMessageType,
    HvStatus,
    rights_from_flags,
)
from hvlab.model.hypervisor.hypercalls import RESERVED_MASK, HypercallInput, HypercallResult
from hvlab.model.system import Machine
from tests.helpers import booted


@given(
    code=st.integers(0, 0xFFFF),
    fast=st.booleans(),
    reps=st.integers(0, 0xFFF),
    start=st.integers(0, 0xFFF),
    header=st.integers(0, 0x3FF),
)
def test_input_value_round_trips(code, fast, reps, start, header):
    value = HypercallInput.encode(
        code, fast=fast, rep_count=reps, rep_start=start, var_header=header
    )
    ctl = HypercallInput.decode(value)
    assert (ctl.code, ctl.fast, ctl.rep_count, ctl.rep_start, ctl.var_header) == (
        code,
        fast,
        reps,
        start,
        header,
    )
    assert ctl.reserved == 0 and value & RESERVED_MASK == 0


def test_input_value_bit_positions_match_the_tlfs():
    ctl = HypercallInput.decode(0x0FFF_0FFF_0001_004B | 1 << 31)
    assert ctl.code == 0x4B and ctl.fast and ctl.rep_count == 0xFFF and ctl.rep_start == 0xFFF
    assert ctl.reserved == 1 << 31
    assert HypercallResult(HvStatus.INVALID_PARAMETER, reps=3).value == 0x3_0000_0005


def test_real_values_and_labels():
    assert HvCallCode.MAP_GPA_PAGES.label == "HvCallMapGpaPages"
    assert HvCallCode.START_VIRTUAL_PROCESSOR == 0x99
    assert HvStatus.INSUFFICIENT_BUFFERS.label == "HV_STATUS_INSUFFICIENT_BUFFERS"
    assert HvMessageType.X64_IO_PORT_INTERCEPT.label == "HvMessageTypeX64IoPortIntercept"
    assert rights_from_flags(0x1 | 0x4) == "r-x" and rights_from_flags(0x3) == "rw-"


@given(offset=st.integers(0, 2 * PAGE_SIZE), data=st.binary(min_size=1, max_size=100))
def test_physical_memory_reads_back_what_was_written(offset, data):
    st_ = Store()
    memory.write_phys(st_, 0x5000 + offset, data)
    assert memory.read_phys(st_, 0x5000 + offset, len(data)) == data
    assert memory.read_phys(st_, 0x5000 + offset + len(data), 8) == bytes(8)
    if any(data):
        assert not memory.frame_is_zero(st_, (0x5000 + offset) // PAGE_SIZE)


def test_zero_frame_clears_only_that_frame():
    st_ = Store()
    memory.write_phys(st_, 0x1FF8, b"\xff" * 16)  # straddles frames 1 and 2
    memory.zero_frame(st_, 1)
    assert memory.read_phys(st_, 0x1FF8, 16) == bytes(8) + b"\xff" * 8
    assert memory.frame_is_zero(st_, 1) and not memory.frame_is_zero(st_, 2)


def test_map_and_unmap_keep_the_reverse_map():
    st_ = Store()
    memory.map_page(st_, 2, 5, 0x90, "rw-")
    memory.map_page(st_, 3, 7, 0x90, "r--")
    assert memory.mappers(st_, 0x90) == ((2, 5), (3, 7))
    memory.map_page(st_, 2, 5, 0x91, "rw-")  # remapping moves the entry
    assert memory.mappers(st_, 0x90) == ((3, 7),) and memory.mappers(st_, 0x91) == ((2, 5),)
    assert memory.unmap_page(st_, 3, 7) == 0x90 and memory.mappers(st_, 0x90) == ()


def test_synic_slot_busy_until_consumed():
    m = booted()
    assert synic.post(m, 2, 0, 2, 1, b"hello", "test") is HvStatus.SUCCESS
    assert synic.post(m, 2, 0, 2, 1, b"again", "test") is HvStatus.INSUFFICIENT_BUFFERS
    assert synic.consume(m, 2, 0, 2, "A") == (1, b"hello", 0)
    assert synic.consume(m, 2, 0, 2, "A") is None
    synic.set_flag(m, 2, 0, 2, 5, "test")
    assert m.store.get(("sief", 2, 0, 2)) == 1 << 5


def test_hypercall_page_is_read_execute_and_needs_a_guest_os_id():
    m = Machine()
    from hvlab.model.core import engine
    from hvlab.model.scenarios import workloads

    engine.run(m, workloads.WORKLOADS["boot"].build(m), 0)
    a = m.pid("A")
    assert m.store.get(("slat", a, 1))[1] == "r-x"
    assert not m.write(a, PAGE_SIZE, b"\x90" * 8)  # a guest cannot patch its hypercall page
    assert m.events[-1].kind is EventKind.FAULT
    m.store.set(("part", a, "guest_os_id"), 0)
    assert not m.write_msr(a, MSR_HYPERCALL, 1 << 12 | 1)
    assert m.write_msr(a, MSR_GUEST_OS_ID, 5)


def test_child_hypercall_before_enabling_the_page_is_refused():
    m = booted()
    m.store.set(("part", 2, "hypercall_page"), None)
    m.store.take()
    from hvlab.model.hypervisor.hypercalls import hypercall

    before = dict(m.store.data)
    result = hypercall(m, 2, HypercallInput.encode(HvCallCode.GET_PARTITION_ID), 0, 3 * PAGE_SIZE)
    assert (result.status, result.fault, result.value) == (None, "#UD", None)
    assert m.events[-1].kind is EventKind.FAULT and m.events[-1].name == "#UD"
    assert m.store.data == before


def test_vid_refuses_a_frame_of_another_guest_and_scrubs_fresh_frames():
    m = booted()
    b_frame = m.store.get(("slat", 3, 0))[0]
    assert m.vid.map_frames(2, 60, [b_frame]) is None
    assert m.events[-1].protection == "exclusive-guest-memory"
    memory.write_phys(m.store, 0x300 * PAGE_SIZE, b"leftover")
    result = m.vid.map_frames(2, 60, [0x300])
    assert result.ok and memory.frame_is_zero(m.store, 0x300)
    assert any(e.name == "scrub" for e in m.events)


def test_secrets_and_markers_name_who_may_touch_them():
    st_ = Store()
    canaries.plant_secret(st_, "s", b"TOKEN-0123456789", ("A",), 1)
    canaries.plant_marker(st_, 7, "m", ("A", "root"))
    assert canaries.secrets_seen(st_, "B", b"..TOKEN-0123456789..") == ["s"]
    assert canaries.secrets_seen(st_, "A", b"TOKEN-0123456789") == []
    assert canaries.markers_violated(st_, "B", (6, 7)) == [("m", 7)]
    assert canaries.markers_violated(st_, "root", (7,)) == []


def test_event_json_is_plain_data():
    m = booted()
    m.plant_lab_canaries()
    doc = m.events[0].to_json()
    assert doc["kind"] == "canary" and doc["detail"]["canary"] == "hv-secret"
    assert all(isinstance(c[0], str) for c in doc["changes"])
