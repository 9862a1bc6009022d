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
    trans_id: int = 7,
    byte_count: int | None = None,
) -> bytes:
    from hvlab.model.root import storage
    from hvlab.model.vmbus import ring as rings

    count = byte_count if byte_count is not None else sectors * 512
    return rings.packet(
        rings.PacketType.DATA_USING_GPA_DIRECT,
        storage.request(storage.VStorOperation.EXECUTE_SRB, cdb, sectors, lba),
        trans_id,
        prefix=rings.gpa_ranges(list(pages), count),
    )
