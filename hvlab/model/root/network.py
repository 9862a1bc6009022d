"""The virtual switch that joins the guests' netvsc drivers (guest/netvsc.py; the NVSP and
RNDIS messages they exchange are in vmbus/network_protocol.py). It answers each guest's channel
set-up, reads each RNDIS message out of the sender's send buffer, switches frames by their
destination MAC address, and writes them into the receiver's receive buffer.

With `guest-traffic-via-root` on, the switch is `vmswitch` in the root kernel: a frame goes
netvsc(A) → A's channel → root.vswitch → B's channel → netvsc(B), and the hypervisor only
carries the signals. With it off the switch runs inside the hypervisor, and every frame is
copied through a hypervisor buffer on its way. (The guests' signal path is the same in both.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core import slots
from hvlab.model.core.engine import Actor, Do, WaitUntil
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.model.hypervisor.partitions import HV_PID, ROOT_PID
from hvlab.model.root import sites, vsp
from hvlab.model.vmbus import network_protocol as net
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import (
    VSP_VALIDATES,
    Device,
    chan,
    channels,
    relid_of,
    set_chan,
)
from hvlab.model.vmbus.network_protocol import route
from hvlab.model.vmbus.ring import PacketType

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

GTVR = Protection.GUEST_TRAFFIC_VIA_ROOT.value


def switch_node(m: Machine) -> str:
    return "root.vswitch" if m.on(GTVR) else "hypervisor.vswitch"


# -- the switch ---------------------------------------------------------------------------------
def vswitch(actor: Actor):
    while not vsp.stopped(actor.machine, Device.NETWORK):
        yield WaitUntil(
            lambda m: vsp.device_signalled(m, Device.NETWORK), "network signal", vsp.SIGNAL_KEYS
        )
        yield Do(service, "switch frames")


def service(m: Machine) -> None:
    where = "root" if m.on(GTVR) else "hypervisor"
    actor = switch_node(m)
    try:
        for relid in vsp.take_signals(m, channels(m, Device.NETWORK)):
            src = m.name(chan(m, relid, "owner"))
            path = (f"{src}.netvsc", f"{src}.net-channel", actor)
            for packet in vsp.drain(m, actor, relid, path, side=where):
                if packet.desc.type == PacketType.COMP:
                    continue  # a guest acknowledging a receive-buffer section the switch filled
                handle(m, actor, where, relid, src, packet, path)
    except vsp.ServiceStopped:
        return  # the switch faulted: it switches nothing now (its loop sees it)


def handle(m: Machine, actor: str, where: str, relid: int, src: str, packet, path) -> None:
    """One NVSP message from a guest."""
    payload = packet.payload(m, actor)
    kind = net.nvsp_type(payload)
    fields = net.read_nvsp(payload)
    validating = m.on(VSP_VALIDATES)
    if validating and packet.desc.type != PacketType.DATA_INBAND:
        vsp.corrupt(m, actor, relid, f"NVSP message in a type {packet.desc.type:#x} packet", path)
        return
    back = tuple(reversed(path))

    def note(what: str, **detail) -> None:
        m.emit(
            EventKind.VSP,
            actor,
            what,
            path=path,
            detail={
                "message": net.nvsp_label(payload),
                "layout": net.NVSP_LAYOUTS[kind].name if kind in net.NVSP_LAYOUTS else "",
                "bytes": payload[: net.NVSP_MESSAGE_SIZE].hex(),
                "relid": relid,
                **detail,
            },
        )

    def answer(reply: bytes) -> None:
        raw = rings.packet(PacketType.COMP, reply, packet.desc.trans_id, flags=0)
        vsp.send(m, actor, relid, raw, back, side=where)

    if kind == net.INIT:
        ok = (
            fields["min_protocol_ver"] <= net.NVSP_PROTOCOL_VERSION_61 <= fields["max_protocol_ver"]
        )
        note(net.nvsp_label(payload))
        answer(
            net.nvsp(
                net.INIT_COMPLETE,
                negotiated_protocol_ver=net.NVSP_PROTOCOL_VERSION_61 if ok else 0,
                status=net.NVSP_STAT_SUCCESS if ok else net.NVSP_STAT_FAIL,
            )
        )
        return
    if kind == net.SEND_NDIS_VER:
        note(net.nvsp_label(payload), ndis=f"{fields['ndis_major_ver']}.{fields['ndis_minor_ver']}")
        set_chan(m, relid, "ndis", (fields["ndis_major_ver"], fields["ndis_minor_ver"]))
        return
    if kind in (net.SEND_RECV_BUF, net.SEND_SEND_BUF):
        handle_id = fields["gpadl_handle"]
        frames = m.store.get(("gpadl", relid, handle_id))
        which = "recv_buf" if kind == net.SEND_RECV_BUF else "send_buf"
        if frames is not None:
            set_chan(m, relid, which, handle_id)
        note(net.nvsp_label(payload), gpadl=handle_id, ok=frames is not None)
        status = net.NVSP_STAT_SUCCESS if frames is not None else net.NVSP_STAT_FAIL
        if kind == net.SEND_RECV_BUF:
            count = len(frames or ()) * PAGE_SIZE // net.RECV_SECTION_SIZE
            answer(
                net.nvsp(
                    net.SEND_RECV_BUF_COMPLETE,
                    status=status,
                    num_sections=1,
                    **{
                        "sections[0].sub_alloc_size": net.RECV_SECTION_SIZE,
                        "sections[0].num_sub_allocs": count,
                        "sections[0].end_offset": count * net.RECV_SECTION_SIZE,
                    },
                )
            )
        else:
            answer(
                net.nvsp(
                    net.SEND_SEND_BUF_COMPLETE, status=status, section_size=net.SEND_SECTION_SIZE
                )
            )
        return
    if kind != net.SEND_RNDIS_PKT:
        if validating:
            vsp.corrupt(m, actor, relid, f"unknown NVSP message {kind}", path)
        else:
            note("nvsp-ignored", why=f"unknown NVSP message {kind}")
        return
    read = _rndis_message(m, actor, where, relid, fields, path)
    if read is None:
        return
    message, origin = read
    note(
        net.nvsp_label(payload), rndis=net.rndis_label(message), channel_type=fields["channel_type"]
    )
    rndis_kind = net.rndis_type(message)
    if rndis_kind == net.PACKET_MSG:
        forward(m, actor, where, relid, src, message, path, origin)
    elif rndis_kind in (net.INITIALIZE_MSG, net.SET_MSG):
        _control(m, actor, where, relid, message, path, origin)
    elif validating:
        vsp.corrupt(m, actor, relid, f"{net.rndis_label(message)} not handled", path)
        return
    answer(net.nvsp(net.SEND_RNDIS_PKT_COMPLETE, status=net.NVSP_STAT_SUCCESS))


def _buffer(m: Machine, relid: int, which: str) -> tuple[int, ...]:
    handle_id = chan(m, relid, which)
    return m.store.get(("gpadl", relid, handle_id), ()) if handle_id is not None else ()


def _view(where: str) -> int:
    """Whose address space the switch reads and writes guest buffers through."""
    return ROOT_PID if where == "root" else HV_PID


def _rndis_message(m: Machine, actor: str, where: str, relid: int, fields, path):
    """The RNDIS message a SEND_RNDIS_PKT names in the sender's send buffer, and the frames it
    was read from (none when it was read from past the buffer); None when refused. Validating: the
    section index and size within the buffer, and the message's own length within the size;
    not validating, the switch believes the index and reads past the buffer if told to."""
    frames = _buffer(m, relid, "send_buf")
    index, size = fields["send_buf_section_index"], fields["send_buf_section_size"]
    sections = len(frames) * PAGE_SIZE // net.SEND_SECTION_SIZE
    if m.on(VSP_VALIDATES):
        why = None
        if not frames:
            why = "SEND_RNDIS_PKT before a send buffer was set up"
        elif index >= sections:
            why = f"send_buf_section_index {index} of {sections} sections"
        elif not 8 <= size <= net.SEND_SECTION_SIZE:
            why = f"send_buf_section_size {size}"
        if why:
            vsp.corrupt(m, actor, relid, why, path)
            return None
    if not frames:
        return None
    offset = index * net.SEND_SECTION_SIZE
    base = frames[0] * PAGE_SIZE if offset >= len(frames) * PAGE_SIZE else None
    if base is None:
        message = _read_buffer(m, _view(where), frames, offset, size, actor)
        pages = range(offset // PAGE_SIZE, (offset + max(1, size) - 1) // PAGE_SIZE + 1)
        origin = tuple(frames[p] for p in pages if p < len(frames))
    else:  # believed an index past the buffer: reads whatever root memory follows it
        message = m.read(_view(where), base + offset, min(size, PAGE_SIZE), actor) or b""
        origin = ()
    if m.on(VSP_VALIDATES):
        length = net.read_rndis(message).get("msg_len", int.from_bytes(message[4:8], "little"))
        why = None
        if not 8 <= length <= size:
            why = f"RNDIS msg_len {length} in a {size}-byte section"
        elif net.rndis_type(message) == net.PACKET_MSG:
            f = net.read_rndis(message)
            end = 8 + f["data_offset"] + f["data_len"]
            if f["data_offset"] < net.RNDIS_PACKET.size - 8 or end > length:
                why = f"data at {8 + f['data_offset']}+{f['data_len']} past msg_len {length}"
            elif not net.ETHERNET_HEADER <= f["data_len"] <= net.MAX_FRAME:
                why = f"frame of {f['data_len']} bytes"
        if why:
            vsp.corrupt(m, actor, relid, why, path)
            return None
    return message, origin


def _read_buffer(m: Machine, view: int, frames, offset: int, size: int, actor: str) -> bytes:
    out = b""
    while size > 0:
        page, within = divmod(offset, PAGE_SIZE)
        if page >= len(frames):
            break
        n = min(size, PAGE_SIZE - within)
        out += m.read(view, frames[page] * PAGE_SIZE + within, n, actor) or bytes(n)
        offset, size = offset + n, size - n
    return out


def _write_buffer(m: Machine, view: int, frames, offset: int, data: bytes, actor: str) -> bool:
    while data:
        page, within = divmod(offset, PAGE_SIZE)
        if page >= len(frames):
            return False
        n = min(len(data), PAGE_SIZE - within)
        if not m.write(view, frames[page] * PAGE_SIZE + within, data[:n], actor):
            return False
        offset, data = offset + n, data[n:]
    return True


def _control(
    m: Machine, actor: str, where: str, relid: int, message: bytes, path, origin=()
) -> None:
    """The RNDIS device's answer to INITIALIZE_MSG or SET_MSG. A SET names its OID's value by
    an offset and length inside the message: with validation on, both are checked and only the
    packet filter is accepted (vmswitch's OID handling is where CVE-2021-28476 was: an OID
    request it did not validate)."""
    fields = net.read_rndis(message)
    if net.rndis_type(message) == net.INITIALIZE_MSG:
        reply = net.rndis(
            net.INITIALIZE_CMPLT,
            req_id=fields["req_id"],
            status=net.RNDIS_STATUS_SUCCESS,
            major_ver=1,
            minor_ver=0,
            medium=0,
            max_pkt_per_msg=8,
            max_xfer_size=net.MAX_XFER_SIZE,
        )
        deliver(m, actor, where, relid, reply, tuple(reversed(path)))
        return
    start = 8 + fields["info_buf_offset"]
    end = start + fields["info_buflen"]
    status = net.RNDIS_STATUS_SUCCESS

    def builtin() -> str | None:
        if end > fields["msg_len"] or start < net.RNDIS_SET_REQUEST.size:
            return f"info buffer {start}..{end} outside the message"
        return None

    why = None
    if m.on(VSP_VALIDATES):
        why = slots.ask(
            m, slots.RNDIS_SET, builtin, message_length=fields["msg_len"],
            header_size=net.RNDIS_SET_REQUEST.size, info_offset=fields["info_buf_offset"],
            info_length=fields["info_buflen"],
        )  # fmt: skip
    if why:
        status = net.RNDIS_STATUS_INVALID_DATA
        m.emit(
            EventKind.VSP,
            actor,
            "oid-refused",
            protection=VSP_VALIDATES,
            path=path,
            detail={"oid": fields["oid"], "why": why},
        )
    elif m.on(VSP_VALIDATES) and fields["oid"] != net.OID_GEN_CURRENT_PACKET_FILTER:
        status = net.RNDIS_STATUS_NOT_SUPPORTED
    elif end > len(message) and origin:
        # not validating, the switch believes the offset and reads the value where it points,
        # past the message: in the sender's memory, or — past all it mapped — a faulting read
        # in the switch (the class of CVE-2021-28476: an OID request vmswitch did not check)
        at = origin[0] * PAGE_SIZE + start
        value = m.read(_view(where), at, min(end - start, 8), actor)
        if value is None:
            vsp.stop_service(m, actor, relid, f"OID info buffer at offset {start:#x}: past memory")
        set_chan(m, relid, "packet_filter", int.from_bytes(value[:4], "little"))
    else:
        set_chan(m, relid, "packet_filter", int.from_bytes(message[start:end][:4], "little"))
    reply = net.rndis(net.SET_CMPLT, req_id=fields["req_id"], status=status)
    deliver(m, actor, where, relid, reply, tuple(reversed(path)))


def deliver(m: Machine, actor: str, where: str, relid: int, message: bytes, path) -> bool:
    """Write an RNDIS message into a section of the guest's receive buffer and name it in an
    XFER_PAGES packet carrying SEND_RNDIS_PKT."""
    frames = _buffer(m, relid, "recv_buf")
    sections = len(frames) * PAGE_SIZE // net.RECV_SECTION_SIZE
    if not sections or len(message) > net.RECV_SECTION_SIZE:
        m.emit(EventKind.VSP, actor, "drop", path=path, detail={"why": "no receive buffer"})
        return False
    section = chan(m, relid, "recv_next", 0) % sections
    set_chan(m, relid, "recv_next", section + 1)
    offset = section * net.RECV_SECTION_SIZE
    if not _write_buffer(m, _view(where), frames, offset, message, actor):
        return False
    tid = m.store.get(("vswitch", "tid"), 0x1000) + 1
    m.store.set(("vswitch", "tid"), tid)
    channel_type = net.CHANNEL_DATA if net.rndis_type(message) == net.PACKET_MSG else 1
    body = net.nvsp(
        net.SEND_RNDIS_PKT,
        channel_type=channel_type,
        send_buf_section_index=net.INVALID_INDEX,
        send_buf_section_size=0,
    )
    raw = rings.packet(
        PacketType.DATA_USING_XFER_PAGES, body, tid, prefix=net.xfer_pages(offset, len(message))
    )
    return vsp.send(m, actor, relid, raw, path, side=where)


def forward(
    m: Machine, actor: str, where: str, relid: int, src: str, message: bytes, path, origin=()
) -> None:
    """A PACKET_MSG's frame, switched by its destination MAC address to that guest's port;
    `origin`: the frames it was read from (a driver that reads it learns what they held)."""
    frame = net.packet_data(message)
    header = net.ETHERNET.unpack(frame)
    dst_pid = net.pid_of_mac(header["h_dest"])
    dst_relid = relid_of(dst_pid, Device.NETWORK) if dst_pid is not None else None
    open_port = dst_relid is not None and chan(m, dst_relid, "state") == "open"
    if not open_port:
        m.emit(
            EventKind.VSP,
            actor,
            "drop",
            path=path,
            detail={"why": f"no switch port for {header['h_dest'].hex(':')}"},
        )
        return
    dst = m.name(dst_pid)
    full = route(m, src, dst)
    frame = sites.vmbus_packet(m, where, src, dst, frame, origin)
    if frame is None:
        return
    if where == "hypervisor":
        # The frame is copied through hypervisor memory: the design the protection rules out.
        buffer = (m.layout.hv_data.start + 1) * PAGE_SIZE
        m.write(0, buffer, frame, actor)
        frame = m.read(0, buffer, len(frame), actor) or frame
    m.emit(
        EventKind.VSP,
        actor,
        "switch-frame",
        path=full,
        detail={
            "message": net.RNDIS_NAMES[net.PACKET_MSG],
            "from": src,
            "to": dst,
            "length": len(frame),
            "h_dest": header["h_dest"].hex(":"),
            "h_source": header["h_source"].hex(":"),
        },
    )
    deliver(m, actor, where, dst_relid, net.packet_msg(frame), full[2:])
