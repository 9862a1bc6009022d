"""VMBus ring buffers: the shared pages a guest and the root exchange packets through.

A ring is a 4 KiB header (write index u32 at 0, read index u32 at 4, interrupt mask u32 at 8,
pending send size u32 at 12) and a 4 KiB data page. Indices are byte offsets into the data,
8-byte aligned; read == write means empty, and a writer keeps 8 bytes free so a full ring never
looks empty. A packet is a 16-byte descriptor — type u16, offset8 u16, len8 u16, flags u16,
transaction id u64 — followed by its payload, padded to 8 bytes. (Linux also appends an 8-byte
trailer of previous indices; the model leaves it out.)

Everything here goes through `Machine.read` / `Machine.write`, so each ring access is an event
in the address space of whoever makes it: the guest through its second-level map, the root
through its identity map.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from hvlab.model.core.wire import Struct, le
from hvlab.model.hypervisor.constants import PAGE_SIZE

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

DESCRIPTOR = 16
RING_HEADER = Struct(
    "hv_ring_buffer",
    4096,
    le("write_index", 0, 4),
    le("read_index", 4, 4),
    le("interrupt_mask", 8, 4),
    le("pending_send_sz", 12, 4),
    le("feature_bits.value", 64, 4),
    source="include/linux/hyperv.h",
)
PACKET_DESCRIPTOR = Struct(
    "vmpacket_descriptor",
    16,
    le("type", 0, 2),
    le("offset8", 2, 2),
    le("len8", 4, 2),
    le("flags", 6, 2),
    le("trans_id", 8, 8),
    source="include/linux/hyperv.h",
)
_D = PACKET_DESCRIPTOR.nested("d.")  # the descriptor as the first member `d` of a packet header
GPA_DIRECT = Struct(
    "vmdata_gpa_direct",
    32,  # the model puts one page in each range: hv_page_buffer's 16 bytes
    *_D,
    le("reserved", 16, 4),
    le("range_cnt", 20, 4),
    le("range.byte_count", 24, 4),
    le("range.byte_offset", 28, 4),
    source="include/linux/hyperv.h",
)
XFER_PAGES = Struct(
    "vmtransfer_page_packet_header",
    24,  # and one vmtransfer_page_range (byte_count, byte_offset) per range from 24
    *_D,
    le("xfer_pageset_id", 16, 2),
    le("sender_owns_set", 18, 1),
    le("range_cnt", 20, 4),
    source="include/linux/hyperv.h",
)
RING_DATA = PAGE_SIZE
FLAG_COMPLETION_REQUESTED = 0x1
KNOWN_FLAGS = FLAG_COMPLETION_REQUESTED


class PacketType(IntEnum):
    DATA_INBAND = 0x6
    DATA_USING_XFER_PAGES = 0x7
    DATA_USING_GPA_DIRECT = 0x9
    COMP = 0xB


@dataclass(frozen=True, slots=True)
class Ring:
    """One ring as seen from one partition: the GPAs of its header and data pages."""

    pid: int
    header: int
    data: int
    size: int = RING_DATA


@dataclass(frozen=True, slots=True)
class Descriptor:
    type: int
    offset8: int
    len8: int
    flags: int
    trans_id: int

    @classmethod
    def parse(cls, raw: bytes) -> Descriptor:
        return cls(*struct.unpack_from("<HHHHQ", raw))

    def pack(self) -> bytes:
        return struct.pack("<HHHHQ", self.type, self.offset8, self.len8, self.flags, self.trans_id)


def packet(
    ptype: int,
    payload: bytes,
    trans_id: int,
    flags: int = FLAG_COMPLETION_REQUESTED,
    prefix: bytes = b"",
) -> bytes:
    """A packet: descriptor, then `prefix` (GPA ranges), then the payload at offset8."""
    prefix = prefix.ljust((len(prefix) + 7) & ~7, b"\0")
    payload = payload.ljust((len(payload) + 7) & ~7, b"\0")
    offset8 = (DESCRIPTOR + len(prefix)) // 8
    len8 = offset8 + len(payload) // 8
    return Descriptor(ptype, offset8, len8, flags, trans_id).pack() + prefix + payload


def gpa_ranges(pfns: list[int], byte_count: int = PAGE_SIZE) -> bytes:
    """The range array of a GPA-direct packet: reserved u32, range count u32, then per range
    byte count u32, byte offset u32, page number u64 (one page a range, in the model)."""
    out = struct.pack("<II", 0, len(pfns))
    for pfn in pfns:
        out += struct.pack("<IIQ", byte_count, 0, pfn)
    return out


def indices(m: Machine, ring: Ring, actor: str) -> tuple[int, int, int] | None:
    raw = m.read(ring.pid, ring.header, 12, actor)
    return struct.unpack("<III", raw) if raw is not None else None


def set_index(m: Machine, ring: Ring, actor: str, which: str, value: int) -> bool:
    offset = 0 if which == "write" else 4
    return m.write(ring.pid, ring.header + offset, struct.pack("<I", value), actor)


def read_data(m: Machine, ring: Ring, actor: str, offset: int, size: int) -> bytes | None:
    """Read `size` bytes at `offset` in the data area, wrapping at the end. No bounds checks:
    a caller that trusts a bad offset reads past the ring, which is the point of the lesson."""
    if size <= 0:
        return b""
    first = min(size, max(0, ring.size - offset)) if offset < ring.size else size
    part = m.read(ring.pid, ring.data + offset, first, actor)
    if part is None:
        return None
    if first == size:
        return part
    rest = m.read(ring.pid, ring.data, size - first, actor)
    return None if rest is None else part + rest


def write(m: Machine, ring: Ring, actor: str, raw: bytes) -> tuple[bool, bool]:
    """Append a packet. Returns (written, ring was empty before) — the writer signals the peer
    only on the empty → non-empty edge."""
    idx = indices(m, ring, actor)
    if idx is None:
        return False, False
    write_at, read_at, _mask = idx
    used = (write_at - read_at) % ring.size
    if len(raw) > ring.size - used - 8:
        return False, False
    first = min(len(raw), ring.size - write_at)
    ok = m.write(ring.pid, ring.data + write_at, raw[:first], actor)
    if ok and first < len(raw):
        ok = m.write(ring.pid, ring.data, raw[first:], actor)
    if not ok:
        return False, False
    set_index(m, ring, actor, "write", (write_at + len(raw)) % ring.size)
    hand = ("writer-scope", ring.pid, ring.header // PAGE_SIZE)
    if m.store.get(hand) is not None:  # the model's writer again: no program's packet is next
        m.store.set(hand, None)
    if m.scope is not None and len(raw) >= DESCRIPTOR:
        # Whoever handles this packet later acts inside the probe that sent it.
        m.store.set(
            ("packet-scope", ring.pid, ring.header, Descriptor.parse(raw).trans_id), m.scope
        )
    return True, write_at == read_at


def read_packet(m: Machine, ring: Ring, actor: str, *, prefix: bool = False):
    """The guest's own, trusting reader of its incoming ring (the root is its TCB): (descriptor,
    payload), or with `prefix` (descriptor, payload, the bytes between the two)."""
    idx = indices(m, ring, actor)
    if idx is None or idx[0] == idx[1]:
        return None
    _write_at, read_at, _ = idx
    head = read_data(m, ring, actor, read_at, DESCRIPTOR)
    desc = Descriptor.parse(head)
    size = max(desc.len8 * 8, DESCRIPTOR)
    raw = read_data(m, ring, actor, read_at, size)
    set_index(m, ring, actor, "read", (read_at + size) % ring.size)
    raw = raw or b""
    if prefix:
        return desc, raw[desc.offset8 * 8 :], raw[DESCRIPTOR : desc.offset8 * 8]
    return desc, raw[desc.offset8 * 8 :]
