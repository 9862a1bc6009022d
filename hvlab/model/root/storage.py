"""The storage VSP in the root, and the root's disk driver (storvsc, the guest's side, is in
guest/storvsc.py; the packets both speak, in vmbus/storage_protocol.py).

A channel opens with storvsc's four-request handshake (vmbus/storage_protocol.py), answered
in order. A request is then an EXECUTE_SRB packet of type DATA_USING_GPA_DIRECT: the data
buffer travels as a list of guest pages, never through the ring. The VSP translates those
pages through the sending guest's own map, reads or writes that guest's virtual disk — a run of
sectors on the physical disk — and answers with a COMPLETE_IO completion.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.core import slots
from hvlab.model.core.engine import Actor, Do, WaitUntil
from hvlab.model.core.events import EventKind
from hvlab.model.hardware import devices
from hvlab.model.hypervisor import memory
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.model.root import vsp
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import (
    VSP_VALIDATES,
    Device,
    chan,
    channels,
    set_chan,
)
from hvlab.model.vmbus.ring import PacketType
from hvlab.model.vmbus.storage_protocol import (
    CDB_READ,
    CDB_WRITE,
    HANDSHAKE,
    MAX_SECTORS,
    MAX_TRANSFER_BYTES,
    READ_TYPE,
    SRB_STATUS_ERROR,
    SRB_STATUS_INVALID_REQUEST,
    SRB_STATUS_SUCCESS,
    VSTOR_PACKET,
    VStorOperation,
    completion,
    path_of,
    read_srb,
)

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

VSP = "root.storvsp"
REFUSED = 0xC0000001  # STATUS_UNSUCCESSFUL
DISK_DRIVER = "root.disk"


def storvsp(actor: Actor):
    """The storage VSP: wakes on a guest's signal and drains that channel's ring."""
    while not vsp.stopped(actor.machine, Device.STORAGE):
        yield WaitUntil(
            lambda m: vsp.device_signalled(m, Device.STORAGE), "storage signal", vsp.SIGNAL_KEYS
        )
        yield Do(service, "serve storage requests")


def service(m: Machine) -> None:
    try:
        for relid in vsp.take_signals(m, channels(m, Device.STORAGE)):
            child = m.name(chan(m, relid, "owner"))
            for packet in vsp.drain(m, VSP, relid, path_of(m, child)):
                handle(m, relid, child, packet)
    except vsp.ServiceStopped:
        return  # the VSP faulted: it serves no one now (its loop sees it)


def handle(m: Machine, relid: int, child: str, packet: vsp.Fetched) -> None:
    validating = m.on(VSP_VALIDATES)
    path = path_of(m, child)
    payload = packet.payload(m, VSP)
    request = read_srb(payload)
    op = request["operation"]
    if op in HANDSHAKE:
        handshake(m, relid, packet, op, path)
        return
    cdb, sectors, lba = request["cdb"], request["sectors"], request["lba"]
    if validating:
        why = None
        if packet.desc.type != PacketType.DATA_USING_GPA_DIRECT:
            why = f"packet type {packet.desc.type:#x} for an SRB"
        elif op != VStorOperation.EXECUTE_SRB or cdb not in (CDB_READ, CDB_WRITE):
            why = f"operation {op} / CDB {cdb:#x}"
        elif request["vm_srb.cdb_length"] != 10:
            why = f"CDB length {request['vm_srb.cdb_length']} for a 10-byte CDB"
        elif not 1 <= sectors <= MAX_SECTORS:
            why = f"{sectors} sectors"
        elif request["vm_srb.data_transfer_length"] != sectors * devices.SECTOR:
            why = (
                f"data_transfer_length {request['vm_srb.data_transfer_length']} "
                f"for {sectors} sectors"
            )
        elif (request["vm_srb.data_in"] == READ_TYPE) != (cdb == CDB_READ):
            why = "data direction does not match the CDB"
        if why:
            vsp.corrupt(m, VSP, relid, why, path)
            return
        if chan(m, relid, "vstor") != "ready":
            refuse(m, relid, packet.desc.trans_id, "EXECUTE_SRB before END_INITIALIZATION", path)
            return
    frames = buffer_frames(m, relid, child, packet, sectors, path)
    if frames is None:
        return
    m.emit(
        EventKind.VSP,
        VSP,
        "execute-srb",
        path=path,
        detail={
            "message": VStorOperation.EXECUTE_SRB.label,
            "relid": relid,
            "packet_type": int(packet.desc.type),
            "operation": int(op),
            "cdb": cdb,
            "lba": lba,
            "sectors": sectors,
            "frames": tuple(frames),
            "trans_id": packet.desc.trans_id,
            "layout": VSTOR_PACKET.name,
            "bytes": payload[: VSTOR_PACKET.size].hex(),
        },
    )
    status = disk_transfer(m, child, cdb, lba, sectors, frames, path)
    complete(m, relid, packet.desc.trans_id, status, path)


def handshake(m: Machine, relid: int, packet: vsp.Fetched, op: int, path) -> None:
    """One step of storvsc_channel_init, answered in order; a step out of order is refused
    (status STATUS_UNSUCCESSFUL) when the VSP validates its input."""
    steps = [int(s) for s in HANDSHAKE]
    done = chan(m, relid, "vstor_step", 0)
    in_order = steps.index(op) == done
    ok = in_order or not m.on(VSP_VALIDATES)
    if ok:
        set_chan(m, relid, "vstor_step", steps.index(op) + 1)
        if op == VStorOperation.END_INITIALIZATION:
            set_chan(m, relid, "vstor", "ready")
    label = VStorOperation(op).label
    extra = {}
    if ok and op == VStorOperation.QUERY_PROPERTIES:
        extra = {"storage_channel_properties.max_transfer_bytes": MAX_TRANSFER_BYTES}
    reply = completion(0 if ok else REFUSED, **extra)
    back = tuple(reversed(path[:3]))
    m.emit(
        EventKind.VSP,
        VSP,
        label if ok else "handshake-refused",
        protection=None if ok else VSP_VALIDATES,
        path=back,
        detail={"message": label, "relid": relid, "status": 0 if ok else REFUSED},
    )
    vsp.send(
        m, VSP, relid, rings.packet(PacketType.COMP, reply, packet.desc.trans_id, flags=0), back
    )


def refuse(m: Machine, relid: int, trans_id: int, why: str, path) -> None:
    back = tuple(reversed(path[:3]))
    m.emit(
        EventKind.VSP,
        VSP,
        "srb-refused",
        protection=VSP_VALIDATES,
        path=back,
        detail={"relid": relid, "why": why},
    )
    reply = completion(REFUSED, srb_status=SRB_STATUS_INVALID_REQUEST)
    vsp.send(m, VSP, relid, rings.packet(PacketType.COMP, reply, trans_id, flags=0), back)


def buffer_frames(m, relid, child, packet, sectors, path) -> list[int] | None:
    """The system frames of the request's data buffer. Validating: translate every guest page
    through the sender's own map. Not validating: believe the page numbers as system frames."""
    prefix = packet.prefix(m, VSP)
    _reserved, count = vsp.u32s(prefix, 0, 2)
    if m.on(VSP_VALIDATES) and (count == 0 or 8 + 16 * count > len(prefix)):
        vsp.corrupt(m, VSP, relid, f"GPA-direct packet with {count} ranges", path)
        return None
    pid = chan(m, relid, "owner")
    pages, counts = [], []
    for i in range(min(count, 8)):
        byte_count, _offset = vsp.u32s(prefix, 8 + 16 * i, 2)
        pfn = struct.unpack_from("<Q", prefix.ljust(8 + 16 * i + 16, b"\0"), 8 + 16 * i + 8)[0]
        pages.append(pfn)
        counts.append(byte_count)
    if not m.on(VSP_VALIDATES):
        return pages  # believed as system frames

    def builtin() -> list[int] | str:
        frames = []
        for gpn in pages:
            entry = memory.translate(m.store, pid, gpn)
            if entry is None or "w" not in entry[1]:
                return f"GPA page {gpn:#x} outside the sender's map"
            frames.append(entry[0])
        if sum(counts) < sectors * devices.SECTOR:
            return f"buffer of {sum(counts)} bytes for {sectors} sectors"
        return frames

    answer = slots.ask(
        m, slots.STORAGE_BUFFER, builtin, pages=tuple(pages), byte_counts=tuple(counts),
        sectors=sectors, guest_map=slots.Lazy(lambda: memory.second_level_map(m.store, pid)),
    )  # fmt: skip
    if isinstance(answer, str):
        vsp.corrupt(m, VSP, relid, answer, path)
        return None
    return list(answer)


def disk_transfer(m, child, cdb, lba, sectors, frames, path) -> int:
    region = devices.VIRTUAL_DISKS.get(child)
    if region is None:
        return SRB_STATUS_ERROR
    if (lba + sectors > region.count or lba < 0) and m.on(VSP_VALIDATES):
        m.emit(
            EventKind.VSP,
            VSP,
            "lba-out-of-range",
            protection=VSP_VALIDATES,
            path=path,
            detail={"lba": lba, "sectors": sectors, "disk_sectors": region.count},
        )
        return SRB_STATUS_ERROR
    first = region.first + lba
    if first < 0 or first + sectors > devices.DISK_SECTORS:
        return SRB_STATUS_ERROR
    per_frame = PAGE_SIZE // devices.SECTOR
    if cdb == CDB_READ:
        data = b"".join(devices.read_sector(m.store, first + i) for i in range(sectors))
        m.emit(
            EventKind.DEVICE,
            DISK_DRIVER,
            "read-sectors",
            path=path[-2:],
            detail={"first": first, "count": sectors},
        )
        for i, pfn in enumerate(frames):
            chunk = data[i * PAGE_SIZE : (i + 1) * PAGE_SIZE]
            if chunk:
                m.dma(pfn * PAGE_SIZE, child, DISK_DRIVER, path[-3:], data=chunk)
        return SRB_STATUS_SUCCESS
    data = b""
    for pfn in frames:
        got = m.dma(pfn * PAGE_SIZE, child, DISK_DRIVER, path[-3:], size=PAGE_SIZE)
        data += got or bytes(PAGE_SIZE)
    for i in range(sectors):
        devices.write_sector(
            m.store, first + i, data[i * devices.SECTOR : (i + 1) * devices.SECTOR]
        )
    m.emit(
        EventKind.DEVICE,
        DISK_DRIVER,
        "write-sectors",
        path=path[-2:],
        detail={"first": first, "count": sectors, "frames_per_page": per_frame},
    )
    return SRB_STATUS_SUCCESS


def complete(m: Machine, relid: int, trans_id: int, status: int, path) -> None:
    raw = rings.packet(PacketType.COMP, completion(0, srb_status=status), trans_id, flags=0)
    vsp.send(m, VSP, relid, raw, tuple(reversed(path[:3])))
    m.emit(
        EventKind.VSP,
        VSP,
        "complete-io",
        path=tuple(reversed(path[:3])),
        detail={
            "relid": relid,
            "packet_type": int(PacketType.COMP),
            "message": VStorOperation.COMPLETE_IO.label,
            "operation": int(VStorOperation.COMPLETE_IO),
            "trans_id": trans_id,
            "srb_status": status,
        },
    )
