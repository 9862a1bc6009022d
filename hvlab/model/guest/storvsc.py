"""storvsc: the guest's storage driver. One SCSI request at a time travels as an EXECUTE_SRB
packet of type DATA_USING_GPA_DIRECT on the guest's storage channel; the data buffer travels as
a list of the guest's own pages, never through the ring."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.core.engine import Actor, Call, Do, Read, WaitUntil, Write
from hvlab.model.core.events import EventKind
from hvlab.model.hardware import devices
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvCallCode
from hvlab.model.hypervisor.invoke import pack
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import (
    EVENT_CONNECTION,
    Device,
    clear_guest_flag,
    guest_signalled,
    next_tid,
    signal_key,
)
from hvlab.model.vmbus.channels import rings as channel_rings
from hvlab.model.vmbus.ring import PacketType
from hvlab.model.vmbus.storage_protocol import (
    CDB_READ,
    CDB_WRITE,
    SRB_STATUS_ERROR,
    SRB_STATUS_SUCCESS,
    VStorOperation,
    path_of,
    request,
)

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


BUFFER_PAGE = 16  # the guest page storvsc uses as its data buffer


def disk_io(
    actor: Actor,
    cdb: int,
    lba: int,
    sectors: int = 1,
    data: bytes = b"",
    buffer_page: int = BUFFER_PAGE,
    wait: bool = True,
):
    """storvsc: one SRB through the channel. Returns (SRB status, data read or b"");
    with `wait=False`, returns (None, b"") once the request is queued."""
    name, partition = actor.name, actor.partition
    pid = yield Do(lambda m: m.pid(partition), "whoami")
    buffer = buffer_page * PAGE_SIZE
    if cdb == CDB_WRITE and data:
        yield Write(buffer, data)
    relid = yield Do(lambda m: m.store.get(("vsc", pid, Device.STORAGE)), "storage channel")

    def submit(m: Machine):
        out_ring, _ = channel_rings(m, relid, "guest")
        raw = rings.packet(
            PacketType.DATA_USING_GPA_DIRECT,
            request(VStorOperation.EXECUTE_SRB, cdb, sectors, lba),
            next_tid(m, pid),
            prefix=rings.gpa_ranges([buffer_page], sectors * devices.SECTOR),
        )
        m.emit(
            EventKind.VSP,
            name,
            "srb",
            path=path_of(m, m.name(pid))[:2],
            detail={"cdb": cdb, "lba": lba, "sectors": sectors, "buffer_gpa": buffer},
        )
        return rings.write(m, out_ring, name, raw)

    written, was_empty = yield Do(submit, "queue SRB")
    if not written:
        return SRB_STATUS_ERROR, b""
    if was_empty:
        yield Call(HvCallCode.SIGNAL_EVENT, pack(EVENT_CONNECTION | relid << 32))
    if not wait:
        return None, b""
    status = yield from wait_completion(name, pid, relid)
    if cdb == CDB_READ and status == SRB_STATUS_SUCCESS:
        got = yield Read(buffer, sectors * devices.SECTOR)
        return status, got or b""
    return status, b""


def wait_completion(name: str, pid: int, relid: int):
    """Wait for the root's signal, then read the completion off the in-ring."""
    while True:
        yield WaitUntil(guest_signalled(pid, relid), "storage completion", (signal_key(pid),))

        def take(m: Machine):
            clear_guest_flag(m, pid, relid)
            _, in_ring = channel_rings(m, relid, "guest")
            return rings.read_packet(m, in_ring, name)

        got = yield Do(take, "read completion")
        if got is not None:
            _desc, payload = got
            return struct.unpack_from("<III", payload.ljust(12, b"\0"))[2]
