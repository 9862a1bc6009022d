"""A state machine over the I/O path: hostile guests send storage requests, frames, raw ring
bytes and port I/O; the root loads drivers. After each step: no breach, no driver inside the
hypervisor, and no frame data in the hypervisor layer. Knock-outs show each can fail."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hvlab.model.core import topology
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hardware import devices
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.model.hypervisor.portio import port_io
from hvlab.model.root import network, storage
from hvlab.model.root.drivers import load_driver
from hvlab.model.root.sites import loaded
from hvlab.model.vmbus import channels as vmbus
from hvlab.model.vmbus.channels import Device
from tests.helpers import booted, guest_submit, net_packet, srb_packet

CHILD = st.sampled_from(["A", "B"])
LBAS = st.sampled_from([0, 3, 5, 63, 64, 69, 100, 255])
PAGES = st.sampled_from([16, 17, 20, 40, 60, 0x8D, 0xB0, 0xD8])


class IoIsolation(RuleBasedStateMachine):
    off: frozenset[str] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.m = booted(*self.off)
        self.m.plant_lab_canaries()
        self.mark = len(self.m.events)
        self.tid = 100

    def next_tid(self) -> int:
        self.tid += 1
        return self.tid

    @rule(child=CHILD, lba=LBAS, page=PAGES, write=st.booleans(), sectors=st.integers(1, 2))
    def guest_disk_request(self, child, lba, page, write, sectors):
        cdb = storage.CDB_WRITE if write else storage.CDB_READ
        guest_submit(
            self.m,
            child,
            Device.STORAGE,
            srb_packet(lba, sectors, cdb, pages=(page,), trans_id=self.next_tid()),
        )
        storage.service(self.m)
        pid = self.m.pid(child)
        if self.m.store.get(("slat", pid, 16)):
            self.m.read(pid, 16 * PAGE_SIZE, 512, child)  # the guest looks at its buffer

    @rule(
        child=CHILD,
        data=st.binary(min_size=16, max_size=80),
        device=st.sampled_from([Device.STORAGE, Device.NETWORK]),
    )
    def guest_ring_garbage(self, child, data, device):
        guest_submit(self.m, child, device, data.ljust((len(data) + 7) & ~7, b"\0"))
        (storage.service if device == Device.STORAGE else network.service)(self.m)

    @rule(src=CHILD, payload=st.binary(max_size=32))
    def guest_sends_a_frame(self, src, payload):
        dst = "B" if src == "A" else "A"
        tid = self.next_tid()
        packet = net_packet(self.m, src, self.m.pid(dst), payload, trans_id=tid, section=tid % 2)
        guest_submit(self.m, src, Device.NETWORK, packet)
        network.service(self.m)

    @rule(child=CHILD, lba=LBAS)
    def guest_ide_read(self, child, lba):
        pid = self.m.pid(child)
        for port, value in (
            (0x1F2, 1),
            (0x1F3, lba & 0xFF),
            (0x1F4, lba >> 8 & 0xFF),
            (0x1F5, 0),
            (0x1F6, 0xE0),
            (0x1F7, devices.ATA_READ_SECTORS),
        ):
            port_io(self.m, pid, port, bytes([value]), 1, child)
        port_io(self.m, pid, 0x1F0, None, devices.SECTOR, child)

    @rule(name=st.sampled_from(["vendor-filter", "monitor"]))
    def root_loads_a_driver_into_the_hypervisor(self, name):
        load_driver(self.m, "root", name, "hypervisor")

    @invariant()
    def hypervisor_runs_no_third_party_code(self):
        assert not loaded(self.m, "hypervisor")

    @invariant()
    def no_breach_and_no_guest_data_in_the_hypervisor_layer(self):
        hv = {n.id for n in topology.build(self.m.design).nodes if n.layer == "hypervisor"}
        new, self.mark = self.m.events[self.mark :], len(self.m.events)
        for ev in new:
            assert ev.kind is not EventKind.BREACH, ev.detail_dict()
            if ev.kind in (EventKind.VSP, EventKind.DEVICE) or ev.name.startswith("dma"):
                assert not hv & set(ev.path), (ev.name, ev.path)
            if ev.kind is EventKind.MEMORY and ev.actor.startswith("hypervisor"):
                raise AssertionError(f"the hypervisor touched guest data: {ev.detail}")


def machine_with(off: frozenset[str]):
    return type(f"IoIsolation_{'_'.join(sorted(off)) or 'all_on'}", (IoIsolation,), {"off": off})


def test_io_invariants_hold_with_every_protection_on():
    run_state_machine_as_test(
        machine_with(frozenset()), settings=settings(max_examples=100, stateful_step_count=30)
    )


@pytest.mark.parametrize(
    "off",
    [
        p.value
        for p in (
            Protection.NO_THIRD_PARTY_CODE,
            Protection.GUEST_TRAFFIC_VIA_ROOT,
            Protection.MEDIATED_IO,
            Protection.VSP_VALIDATES_INPUT,
        )
    ],
)
def test_io_knock_out_finds_a_violation_within_200_examples(off):
    with pytest.raises((AssertionError, Flaky)):
        run_state_machine_as_test(
            machine_with(frozenset({off})),
            settings=settings(
                max_examples=200, stateful_step_count=30, phases=(Phase.explicit, Phase.generate)
            ),
        )


def test_channels_are_open_in_the_starting_state():
    m = booted()
    assert [vmbus.chan(m, r, "state") for r in vmbus.channels(m)] == ["open"] * 4
