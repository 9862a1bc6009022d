"""storvsc: the guest's storage driver. When its channel opens it makes the four-request
handshake of storvsc_channel_init; then one SCSI request at a time travels as an EXECUTE_SRB
packet of type DATA_USING_GPA_DIRECT on the guest's storage channel, the data buffer as a list
of the guest's own pages, never through the ring."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.engine import Actor, Do, Read, Write
from hvlab.model.core.events import EventKind
from hvlab.model.guest.vmbus_client import await_completion, submit
from hvlab.model.hardware import devices
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import Device
from hvlab.model.vmbus.ring import PacketType
from hvlab.model.vmbus.storage_protocol import (
    CDB_READ,
    CDB_WRITE,
    HANDSHAKE,
    REQUEST_COMPLETION_FLAG,
    SRB_STATUS_ERROR,
    SRB_STATUS_SUCCESS,
    VMSTOR_PROTO_VERSION_WIN10,
    VSTOR_PACKET,
    VStorOperation,
    path_of,
    srb,
    vstor,
)

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

__all__ = ["BUFFER_PAGE", "CDB_READ", "CDB_WRITE", "disk_io", "probe", "ready"]

BUFFER_PAGE = 16  # the guest page storvsc uses as its data buffer


def ready(m: Machine, pid: int) -> bool:
    """Has the guest's storvsc finished its channel handshake?"""
    return m.store.get(("vsc", pid, "storvsc")) == "ready"


def probe(actor: Actor):
    """storvsc_channel_init: each request waits for its COMPLETE_IO with status 0; a refusal
    leaves the disk unusable (the driver gives up, as Linux's probe fails)."""
    pid = actor.pid
    relid = yield Do(lambda m: m.store.get(("vsc", pid, Device.STORAGE)), "storage channel")
    if relid is None:
        return False
    for op in HANDSHAKE:
        fields = {"version.major_minor": VMSTOR_PROTO_VERSION_WIN10}
        body = vstor(
            op,
            flags=REQUEST_COMPLETION_FLAG,
            **(fields if op == VStorOperation.QUERY_PROTOCOL_VERSION else {}),
        )

        def make(m, tid, body=body, op=op):
            m.emit(
                EventKind.VSP,
                actor.name,
                op.label,
                path=path_of(m, m.name(pid))[:2],
                detail={"operation": int(op), "layout": VSTOR_PACKET.name, "bytes": body.hex()},
            )
            return rings.packet(PacketType.DATA_INBAND, body, tid)

        tid = yield from submit(actor, pid, relid, make, op.label)
        if tid is None:
            return False
        reply = yield from await_completion(actor, pid, relid, tid, "storage handshake")
        answer = VSTOR_PACKET.unpack(reply)
        if answer["operation"] != VStorOperation.COMPLETE_IO or answer["status"] != 0:
            return False
    yield Do(lambda m: m.store.set(("vsc", pid, "storvsc"), "ready"), "disk ready")
    return True


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
    request = srb(cdb, lba, sectors)

    def make(m: Machine, tid: int):
        m.emit(
            EventKind.VSP,
            name,
            "srb",
            path=path_of(m, m.name(pid))[:2],
            detail={
                "message": VStorOperation.EXECUTE_SRB.label,
                "cdb": cdb,
                "lba": lba,
                "sectors": sectors,
                "buffer_gpa": buffer,
                "layout": VSTOR_PACKET.name,
                "bytes": request.hex(),
            },
        )
        return rings.packet(
            PacketType.DATA_USING_GPA_DIRECT,
            request,
            tid,
            prefix=rings.gpa_ranges([buffer_page], sectors * devices.SECTOR),
        )

    tid = yield from submit(actor, pid, relid, make, "queue SRB")
    if tid is None:
        return SRB_STATUS_ERROR, b""
    if not wait:
        return None, b""
    reply = yield from await_completion(actor, pid, relid, tid, "storage completion")
    status = VSTOR_PACKET.get(reply, "vm_srb.srb_status")
    if cdb == CDB_READ and status == SRB_STATUS_SUCCESS:
        got = yield Read(buffer, sectors * devices.SECTOR)
        return status, got or b""
    return status, b""
