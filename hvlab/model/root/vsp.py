"""How a VSP in the root takes a packet off a guest's ring.

With `vsp-validates-input` on, the VSP checks the ring indices, copies the whole packet out of
shared memory into its own before looking at it, bounds every length and index against that
copy, and checks transaction ids; anything wrong marks the packet corrupt and the channel
broken, and nothing outside the ring is read. With it off it reads fields straight from the
shared ring each time it needs them — a guest can change them between the check and the use
(a double fetch) — and believes indices and lengths as they are.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hvlab.model.core import sites
from hvlab.model.core.events import EventKind
from hvlab.model.hypervisor import synic
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvCallCode
from hvlab.model.hypervisor.invoke import call
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import (
    SINT,
    VSP_VALIDATES,
    chan,
    root_to_child_connection,
    set_chan,
    signal_input,
    signal_key,
)
from hvlab.model.vmbus.channels import rings as channel_rings
from hvlab.model.vmbus.ring import DESCRIPTOR, KNOWN_FLAGS, Descriptor, PacketType, Ring

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

RECENT_IDS = 16
# A VSP takes at most this many packets per channel per wake-up, then lets others run.
BUDGET = 32


@dataclass
class Fetched:
    """A packet taken off a ring: the descriptor as checked, and where its bytes are."""

    relid: int
    desc: Descriptor
    ring: Ring
    start: int
    private: bytes | None  # the VSP's own copy, when it made one

    def body(self, m: Machine, actor: str) -> bytes:
        """The packet's bytes at the moment of use: the private copy, or (validation off) a
        fresh read of the shared ring, which the guest may have rewritten since the check. A
        read that faults — a length that runs past all the guest mapped — stops the VSP."""
        if self.private is not None:
            return self.private
        size = max(self.desc.len8 * 8, DESCRIPTOR)
        raw = rings.read_data(m, self.ring, actor, self.start, size)
        if raw is None:
            stop_service(m, actor, self.relid, f"read {size} bytes past what the guest mapped")
        return raw

    def payload(self, m: Machine, actor: str) -> bytes:
        raw = self.body(m, actor)
        offset8 = Descriptor.parse(raw[:DESCRIPTOR].ljust(DESCRIPTOR, b"\0")).offset8
        return raw[offset8 * 8 :]

    def prefix(self, m: Machine, actor: str) -> bytes:
        """The bytes between the descriptor and the payload (a GPA-direct range array)."""
        raw = self.body(m, actor)
        offset8 = Descriptor.parse(raw[:DESCRIPTOR].ljust(DESCRIPTOR, b"\0")).offset8
        return raw[DESCRIPTOR : offset8 * 8]


class ServiceStopped(Exception):
    """A VSP stopped serving (see stop_service): its service loop ends."""


def stop_service(m: Machine, actor: str, relid: int, why: str) -> None:
    """The VSP faulted in the root's kernel: it stops serving every guest's channel of its
    device class. (Real Hyper-V bugchecks the root, and every VM goes down with it: docs/model.md
    names the simplification.) The oracle's verdict on the probe that caused it: unavailable."""
    device = chan(m, relid, "device")
    m.store.set(("service-stopped", device), why)
    m.emit(
        EventKind.VSP,
        actor,
        "service-stopped",
        path=(actor,),
        detail={"relid": relid, "why": why, "device": device},
    )
    raise ServiceStopped(why)


def stopped(m: Machine, device: int) -> bool:
    return m.store.get(("service-stopped", int(device))) is not None


def corrupt(
    m: Machine, actor: str, relid: int, why: str, path: tuple[str, ...], protection=VSP_VALIDATES
) -> None:
    """Report a corrupt packet and mark the channel broken; other channels carry on."""
    set_chan(m, relid, "state", "broken")
    m.emit(
        EventKind.VSP,
        actor,
        "packet-corrupt",
        protection=protection,
        path=path,
        detail={"relid": relid, "why": why, "channel": "broken"},
    )


def fetch(
    m: Machine, actor: str, relid: int, path: tuple[str, ...], side: str = "root"
) -> Fetched | None:
    """The next packet on a channel's out-ring, or None (empty, or corrupt and now broken).
    `side` is whose view of memory the VSP reads through: the root's, or the hypervisor's."""
    validating = m.on(VSP_VALIDATES)
    state = chan(m, relid, "state")
    if state != "open":
        if validating and state in ("rescinded", "closed") and _has_data(m, relid, actor, side):
            corrupt(m, actor, relid, f"packet on a {state} channel", path)
        return None
    out_ring, _ = channel_rings(m, relid, side)
    idx = rings.indices(m, out_ring, actor)
    if idx is None:
        return None
    write_at, read_at, _mask = idx
    if validating:
        for name, value in (("write", write_at), ("read", read_at)):
            if value >= out_ring.size or value % 8:
                corrupt(
                    m, actor, relid, f"{name} index {value:#x} outside the ring or unaligned", path
                )
                return None
    if write_at == read_at:
        return None
    available = (write_at - read_at) % out_ring.size
    head = rings.read_data(m, out_ring, actor, read_at, DESCRIPTOR)
    if head is None:
        return None
    desc = Descriptor.parse(head)
    _adopt_scope(m, relid, desc.trans_id)
    private = None
    if validating:
        why = _check_descriptor(desc, available)
        if why is None:
            private = rings.read_data(m, out_ring, actor, read_at, desc.len8 * 8)
            desc = Descriptor.parse(private[:DESCRIPTOR])  # what is used is what was checked
            why = _check_ids(m, relid, desc)
        if why is not None:
            corrupt(m, actor, relid, why, path)
            return None
    else:
        _check_ids(m, relid, desc)  # the same bookkeeping of ids; nothing acts on its verdict
    refusal = sites.refused_by(
        m, sites.VSP_PACKET, partition=_sender(m, relid), relid=relid, device=_device(m, relid),
        type=int(desc.type), length=desc.len8 * 8, trans_id=desc.trans_id,
    )  # fmt: skip
    if refusal is not None:  # a plugin defense refused it, as the VSP's own checks do
        corrupt(m, actor, relid, refusal[1], path, protection=refusal[0])
        return None
    size = max(desc.len8 * 8, DESCRIPTOR)
    rings.set_index(m, out_ring, actor, "read", (read_at + size) % out_ring.size)
    return Fetched(relid, desc, out_ring, read_at, private)


def _sender(m: Machine, relid: int) -> str:
    owner = chan(m, relid, "owner")
    return m.name(owner) if owner is not None else "?"


def _device(m: Machine, relid: int) -> str:
    from hvlab.model.vmbus.channels import Device

    device = chan(m, relid, "device")
    return Device(device).name.lower() if device is not None else "?"


def _adopt_scope(m: Machine, relid: int, trans_id: int) -> None:
    """Handle a packet inside the probe that sent it, if one did."""
    guest_out, _ = channel_rings(m, relid, "guest")
    key = ("packet-scope", guest_out.pid, guest_out.header, trans_id)
    scope = m.store.get(key)
    if scope is not None:
        m.store.set(key, None)
        m.scope = scope
        return
    # no tag of the model's ring writer: a program wrote the ring by hand, in a probe's name?
    by_hand = m.store.get(("writer-scope", guest_out.pid, guest_out.header // PAGE_SIZE))
    if by_hand is not None:
        m.scope = by_hand


def _has_data(m: Machine, relid: int, actor: str, side: str) -> bool:
    out_ring, _ = channel_rings(m, relid, side)
    idx = rings.indices(m, out_ring, actor)
    return idx is not None and idx[0] != idx[1]


def _check_descriptor(desc: Descriptor, available: int) -> str | None:
    if available < DESCRIPTOR:
        return f"only {available} bytes available, less than a descriptor"
    if desc.offset8 < DESCRIPTOR // 8:
        return f"offset8 {desc.offset8} points inside the descriptor"
    if desc.len8 < desc.offset8:
        return f"len8 {desc.len8} is below offset8 {desc.offset8}"
    if desc.len8 * 8 > available:
        return f"len8 {desc.len8} runs past the {available} bytes written"
    if desc.type not in set(PacketType):
        return f"unknown packet type {desc.type:#x}"
    if desc.flags & ~KNOWN_FLAGS:
        return f"unknown flags {desc.flags:#x}"
    return None


def _check_ids(m: Machine, relid: int, desc: Descriptor) -> str | None:
    if desc.type == PacketType.COMP:
        issued = chan(m, relid, "issued", ())
        if desc.trans_id not in issued:
            return f"completion for transaction {desc.trans_id:#x}, which the root never sent"
        set_chan(m, relid, "issued", tuple(t for t in issued if t != desc.trans_id) or None)
        return None
    if desc.trans_id == 0:
        return "transaction id 0"
    seen = chan(m, relid, "seen", ())
    if desc.trans_id in seen:
        return f"transaction id {desc.trans_id:#x} replayed"
    set_chan(m, relid, "seen", (*seen, desc.trans_id)[-RECENT_IDS:])
    return None


def send(
    m: Machine, actor: str, relid: int, raw: bytes, path: tuple[str, ...], side: str = "root"
) -> bool:
    """Write a packet to the channel's in-ring; signal the guest on empty → non-empty."""
    _, in_ring = channel_rings(m, relid, side)
    written, was_empty = rings.write(m, in_ring, actor, raw)
    if not written:
        m.emit(EventKind.VSP, actor, "ring-full", path=path, detail={"relid": relid})
        return False
    desc = Descriptor.parse(raw)
    if desc.type != PacketType.COMP and desc.flags & rings.FLAG_COMPLETION_REQUESTED:
        set_chan(m, relid, "issued", (*chan(m, relid, "issued", ()), desc.trans_id))
    if was_empty:
        owner = chan(m, relid, "owner")
        if side == "hypervisor":
            synic.set_flag(m, owner, 0, SINT, relid, actor)
        else:
            # the root's event connection to the guest; the flag is the channel's relid
            signal = signal_input(root_to_child_connection(owner, "event"), relid)
            call(m, ROOT_PID, HvCallCode.SIGNAL_EVENT, signal, actor=actor, fast=True)
    return True


def drain(m: Machine, actor: str, relid: int, path: tuple[str, ...], side: str = "root"):
    """Yield the channel's packets, up to the budget. A validated ring that still holds more
    re-raises its flag, so the VSP comes back to it. An unvalidated one may be lying about its
    indices and never run empty: the model stops there and reports the host hang that crafted
    packets cause (CVE-2011-1872, CVE-2010-3960) instead of spinning."""
    outer = m.scope
    try:
        for _ in range(BUDGET):
            m.scope = outer
            packet = fetch(m, actor, relid, path, side)
            if packet is None:
                return
            yield packet
    finally:
        m.scope = outer
    if m.on(VSP_VALIDATES):
        key = ("sief", ROOT_PID, 0, SINT)
        m.store.set(key, m.store.get(key, 0) | 1 << relid)
        m.emit(
            EventKind.VSP,
            actor,
            "yield",
            path=path,
            detail={"relid": relid, "why": f"{BUDGET} packets served; more are queued"},
        )
        return
    m.emit(
        EventKind.VSP,
        actor,
        "budget-exhausted",
        path=path,
        detail={
            "relid": relid,
            "packets": BUDGET,
            "why": "the ring never ran empty: the VSP would spin here (a host hang)",
        },
    )


def take_signals(m: Machine, relids: list[int]) -> list[int]:
    """Clear and return the channels among `relids` whose guest signalled the root."""
    key = ("sief", ROOT_PID, 0, SINT)
    flags = m.store.get(key, 0)
    hit = [r for r in relids if flags >> r & 1]
    if hit:
        remaining = flags
        for r in hit:
            remaining &= ~(1 << r)
        m.store.set(key, remaining or None)
    return hit


# Every store key `device_signalled` reads (a channel's device is set with the channel list).
SIGNAL_KEYS = (signal_key(ROOT_PID), ("channels",))


def device_signalled(m: Machine, device: int) -> bool:
    """Has a guest signalled one of the root's channels of this device class? A VSP's wake-up
    condition, so the scheduler asks it before every operation: set flags are looked at first."""
    get = m.store.get
    flags = get(("sief", ROOT_PID, 0, SINT), 0)
    if flags:
        for relid in get(("channels",), ()):
            if flags >> relid & 1 and get(("chan", relid, "device")) == device:
                return True
    return False


def u32s(raw: bytes, offset: int, count: int) -> tuple[int, ...]:
    return struct.unpack_from(f"<{count}I", raw.ljust(offset + 4 * count, b"\0"), offset)
