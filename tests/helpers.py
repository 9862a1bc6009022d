"""Shared set-up for model tests: a machine booted by the real `boot` workload, cheaply cloned."""

from __future__ import annotations

from hvlab.matrix import booted_state
from hvlab.model.core.protections import Design
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.model.hypervisor.hypercalls import HypercallResult, hypercall
from hvlab.model.system import Machine


def booted(*off: str) -> Machine:
    """A fresh machine in the state the boot workload leaves, under the design with `off` off."""
    return Machine(Design(frozenset(off)), seed=0, state=booted_state(frozenset(off), 0))


def place(m: Machine, pid: int, gpa: int, data: bytes) -> None:
    """Put `data` in a partition's memory as its kernel would, without events or checks."""
    from hvlab.model.hypervisor import memory

    entry = m.store.get(("slat", pid, gpa // PAGE_SIZE))
    if data and entry is not None:
        memory.write_phys(m.store, entry[0] * PAGE_SIZE + gpa % PAGE_SIZE, data)
    m.store.take()


def issue(
    m: Machine, pid: int, value: int, in_gpa: int, out_gpa: int, data: bytes = b""
) -> HypercallResult:
    """Place `data` at `in_gpa`, then call."""
    place(m, pid, in_gpa, data)
    return hypercall(m, pid, value, in_gpa, out_gpa)


# -- the I/O path ----------------------------------------------------------------------------
def relid(m: Machine, child: str, device: int) -> int:
    return m.store.get(("vsc", m.pid(child), device))


def guest_submit(m: Machine, child: str, device: int, raw: bytes) -> bool:
    """The guest puts `raw` on its out-ring and signals the root, as its VSC would."""
    from hvlab.model.vmbus import channels as vmbus
    from hvlab.model.vmbus import ring as rings

    r = relid(m, child, device)
    out_ring, _ = vmbus.rings(m, r, "guest")
    written, _ = rings.write(m, out_ring, child, raw)
    key = ("sief", 1, 0, 2)
    m.store.set(key, m.store.get(key, 0) | 1 << r)
    m.store.take()
    return written


def srb_packet(
    lba: int,
    sectors: int = 1,
    cdb: int = 0x28,
    pages=(16,),
    trans_id: int = 0x700,
    byte_count: int | None = None,
) -> bytes:
    from hvlab.model.vmbus import ring as rings
    from hvlab.model.vmbus import storage_protocol as vstor

    count = byte_count if byte_count is not None else sectors * 512
    return rings.packet(
        rings.PacketType.DATA_USING_GPA_DIRECT,
        vstor.srb(cdb, lba, sectors),
        trans_id,
        prefix=rings.gpa_ranges(list(pages), count),
    )


def net_packet(
    m: Machine,
    src: str,
    dst_pid: int,
    payload: bytes = b"hello",
    trans_id: int = 0x500,
    section: int = 0,
    message: bytes | None = None,
    **nvsp_fields,
) -> bytes:
    """What netvsc sends for one frame: the RNDIS PACKET_MSG copied into section `section` of
    `src`'s send buffer, and the NVSP SEND_RNDIS_PKT packet naming it (fields overridable)."""
    from hvlab.model.core.layout import GUEST_SEND_BUFFER
    from hvlab.model.vmbus import network_protocol as net
    from hvlab.model.vmbus import ring as rings

    if message is None:
        message = net.packet_msg(net.frame(dst_pid, m.pid(src), payload))
    base = GUEST_SEND_BUFFER[0] * PAGE_SIZE + section * net.SEND_SECTION_SIZE
    place(m, m.pid(src), base, message)
    fields = {
        "channel_type": net.CHANNEL_DATA,
        "send_buf_section_index": section,
        "send_buf_section_size": len(message),
        **nvsp_fields,
    }
    return rings.packet(
        rings.PacketType.DATA_INBAND, net.nvsp(net.SEND_RNDIS_PKT, **fields), trans_id
    )
