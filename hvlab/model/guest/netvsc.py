"""netvsc: the guest's network driver. When its channel opens it sets the channel up as
netvsc_connect_vsp and rndis_filter_device_add do — NVSP INIT, the NDIS version, a GPADL of its
receive buffer (SEND_RECV_BUF) and of its send buffer (SEND_SEND_BUF), then RNDIS
INITIALIZE_MSG and a SET_MSG of the packet filter. Each frame it sends is an RNDIS PACKET_MSG
copied into a free section of the send buffer and named by an NVSP SEND_RNDIS_PKT; each frame
it receives is an RNDIS message in its receive buffer, named by an XFER_PAGES packet, which it
acknowledges with SEND_RNDIS_PKT_COMPLETE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.engine import Actor, Do, WaitUntil, Write
from hvlab.model.core.events import EventKind
from hvlab.model.core.layout import GUEST_RECEIVE_BUFFER, GUEST_SEND_BUFFER
from hvlab.model.guest.vmbus_client import establish_gpadl
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.model.vmbus import network_protocol as net
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import (
    Device,
    clear_guest_flag,
    guest_signalled,
    next_tid,
    signal_connection,
    signal_key,
    signal_root,
)
from hvlab.model.vmbus.channels import rings as channel_rings
from hvlab.model.vmbus.ring import PacketType

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

SEND_SECTIONS = len(GUEST_SEND_BUFFER) * PAGE_SIZE // net.SEND_SECTION_SIZE


def _key(pid: int, what) -> tuple:
    return ("vsc", pid, ("netvsc", what))


def ready(m: Machine, pid: int) -> bool:
    """Has the guest's netvsc finished setting its channel up?"""
    return m.store.get(_key(pid, "state")) == "ready"


def _channel(m: Machine, pid: int) -> int | None:
    return m.store.get(("vsc", pid, Device.NETWORK))


# -- the in-ring: everything the switch sends, taken in one pass --------------------------------
def _poll(m: Machine, pid: int, name: str, relid: int):
    """Take every packet off the in-ring: completions are kept by transaction id, RNDIS
    messages in the receive buffer are read (frames queued, control answers kept by request
    id) and acknowledged. Returns (signal the root?, the connection to signal on)."""
    clear_guest_flag(m, pid, relid)
    out_ring, in_ring = channel_rings(m, relid, "guest")
    get, put = m.store.get, m.store.set
    signal = False
    while (item := rings.read_packet(m, in_ring, name, prefix=True)) is not None:
        desc, payload, prefix = item
        if desc.type == PacketType.COMP:
            put(_key(pid, ("comp", desc.trans_id)), payload)
            if net.nvsp_type(payload) == net.SEND_RNDIS_PKT_COMPLETE:
                sections = get(_key(pid, "send-busy"), ())
                busy = tuple(s for s in sections if s[0] != desc.trans_id)
                put(_key(pid, "send-busy"), busy or None)
            continue
        if desc.type != PacketType.DATA_USING_XFER_PAGES:
            continue
        set_id, ranges = net.read_xfer_pages(prefix)
        for count, offset in ranges if set_id == net.RECEIVE_BUFFER_ID else ():
            message = m.read(pid, GUEST_RECEIVE_BUFFER[0] * PAGE_SIZE + offset, count, name) or b""
            kind = net.rndis_type(message)
            if kind == net.PACKET_MSG:
                data = net.packet_data(message)
                put(_key(pid, "rx"), (*get(_key(pid, "rx"), ()), data[net.ETHERNET_HEADER :]))
            elif kind in (net.INITIALIZE_CMPLT, net.SET_CMPLT):
                answer = net.read_rndis(message)
                put(_key(pid, ("rndis", answer["req_id"])), answer["status"])
        ack = rings.packet(
            PacketType.COMP,
            net.nvsp(net.SEND_RNDIS_PKT_COMPLETE, status=net.NVSP_STAT_SUCCESS),
            desc.trans_id,
            flags=0,
        )
        written, was_empty = rings.write(m, out_ring, name, ack)
        signal = signal or (written and was_empty)
    return signal, signal_connection(m, pid, relid)


def _until(actor: Actor, relid: int, take, label: str):
    """Return `take(m)` once it is not None, polling the in-ring each time the root signals."""
    pid, name = actor.pid, actor.name
    while True:
        value = yield Do(take, label)
        if value is not None:
            return value
        yield WaitUntil(guest_signalled(pid, relid), label, (signal_key(pid),))
        signal, conn = yield Do(lambda m: _poll(m, pid, name, relid), "read the in-ring")
        if signal:
            yield signal_root(conn)


def _send_nvsp(actor: Actor, relid: int, body: bytes, completion: bool = True, **extra):
    """Queue an NVSP message as an inband packet; returns its transaction id. `extra` goes
    into the event's detail (the RNDIS message a SEND_RNDIS_PKT names)."""
    pid, name = actor.pid, actor.name

    def queue(m: Machine):
        tid = next_tid(m, pid)
        m.emit(
            EventKind.VSP,
            name,
            net.nvsp_label(body),
            path=(f"{m.name(pid)}.netvsc", f"{m.name(pid)}.net-channel"),
            detail={
                "message": net.nvsp_label(body),
                "layout": net.NVSP_LAYOUTS[net.nvsp_type(body)].name,
                "bytes": body.hex(),
                **extra,
            },
        )
        out_ring, _ = channel_rings(m, relid, "guest")
        flags = rings.FLAG_COMPLETION_REQUESTED if completion else 0
        raw = rings.packet(PacketType.DATA_INBAND, body, tid, flags=flags)
        written, was_empty = rings.write(m, out_ring, name, raw)
        return (tid if written else None), was_empty, signal_connection(m, pid, relid)

    tid, was_empty, conn = yield Do(queue, "queue NVSP message")
    if tid is not None and was_empty:
        yield signal_root(conn)
    return tid


def _request(actor: Actor, relid: int, body: bytes, label: str):
    """An NVSP request and the completion the switch answers it with (its payload)."""
    pid = actor.pid
    tid = yield from _send_nvsp(actor, relid, body)
    if tid is None:
        return {}
    reply = yield from _until(actor, relid, lambda m: m.store.get(_key(pid, ("comp", tid))), label)
    return net.read_nvsp(reply)


def _send_rndis(actor: Actor, relid: int, message: bytes, channel_type: int):
    """Copy an RNDIS message into a free send-buffer section and name it in SEND_RNDIS_PKT."""
    pid = actor.pid

    def free_section(m: Machine):
        busy = {s[1] for s in m.store.get(_key(pid, "send-busy"), ())}
        return next((i for i in range(SEND_SECTIONS) if i not in busy), None)

    section = yield from _until(actor, relid, free_section, "send section free")
    yield Write(GUEST_SEND_BUFFER[0] * PAGE_SIZE + section * net.SEND_SECTION_SIZE, message)
    body = net.nvsp(
        net.SEND_RNDIS_PKT,
        channel_type=channel_type,
        send_buf_section_index=section,
        send_buf_section_size=len(message),
    )
    tid = yield from _send_nvsp(actor, relid, body, rndis=net.rndis_label(message))
    if tid is not None:
        yield Do(
            lambda m: m.store.set(
                _key(pid, "send-busy"), (*m.store.get(_key(pid, "send-busy"), ()), (tid, section))
            ),
            "section in use",
        )
    return tid


def probe(actor: Actor):
    """netvsc_connect_vsp, then the RNDIS device's initialization; False if a step failed."""
    pid = actor.pid
    relid = yield Do(lambda m: _channel(m, pid), "network channel")
    if relid is None:
        return False
    version = net.NVSP_PROTOCOL_VERSION_61
    init = net.nvsp(net.INIT, min_protocol_ver=version, max_protocol_ver=version)
    answer = yield from _request(actor, relid, init, "NVSP init")
    if answer.get("status") != net.NVSP_STAT_SUCCESS:
        return False
    major, minor = net.NDIS_VERSION_6_30
    ndis = net.nvsp(net.SEND_NDIS_VER, ndis_major_ver=major, ndis_minor_ver=minor)
    yield from _send_nvsp(actor, relid, ndis, completion=False)
    conn = yield Do(lambda m: m.store.get(("vsc", pid, "msg_conn")), "message connection")
    for pages, kind, buffer_id in (
        (GUEST_RECEIVE_BUFFER, net.SEND_RECV_BUF, net.RECEIVE_BUFFER_ID),
        (GUEST_SEND_BUFFER, net.SEND_SEND_BUF, net.SEND_BUFFER_ID),
    ):
        handle = yield from establish_gpadl(actor, conn, relid, list(pages))
        if handle is None:
            return False
        answer = yield from _request(
            actor, relid, net.nvsp(kind, gpadl_handle=handle, id=buffer_id), "buffer set up"
        )
        if answer.get("status") != net.NVSP_STAT_SUCCESS:
            return False
    requests = (
        net.rndis(
            net.INITIALIZE_MSG,
            req_id=1,
            major_ver=1,
            minor_ver=0,
            max_xfer_size=net.MAX_XFER_SIZE,
        ),
        net.rndis(
            net.SET_MSG,
            net.PACKET_FILTER.to_bytes(4, "little"),
            req_id=2,
            oid=net.OID_GEN_CURRENT_PACKET_FILTER,
            info_buflen=4,
            info_buf_offset=net.RNDIS_SET_REQUEST.size - 8,
        ),
    )
    for req_id, message in enumerate(requests, start=1):
        yield from _send_rndis(actor, relid, message, net.CHANNEL_CONTROL)
        status = yield from _until(
            actor, relid, lambda m, r=req_id: m.store.get(_key(pid, ("rndis", r))), "RNDIS answer"
        )
        if status != net.RNDIS_STATUS_SUCCESS:
            return False
    yield Do(lambda m: m.store.set(_key(pid, "state"), "ready"), "link up")
    return True


def rndis_request(actor, message: bytes):
    """netvsc: one RNDIS control message (INITIALIZE_MSG, SET_MSG …) on the control channel, as
    a program with a handle (name, partition) sends it — an attack's way to reach the switch's
    RNDIS handling. Returns the transaction id, or None if the channel is not up."""
    partition = actor.partition
    pid = yield Do(lambda m: m.pid(partition), "whoami")
    relid = yield Do(lambda m: m.store.get(("vsc", pid, Device.NETWORK)), "network channel")
    if relid is None:
        return None
    own = _Own(actor.name, partition, pid)
    tid = yield from _send_rndis(own, relid, message, net.CHANNEL_CONTROL)
    return tid


class _Own:
    """The little of an Actor that netvsc's senders read (its name and partition id)."""

    def __init__(self, name: str, partition: str, pid: int) -> None:
        self.name, self.partition, self.pid = name, partition, pid


# -- frames --------------------------------------------------------------------------------------
def send(actor: Actor, dst_pid: int, payload: bytes):
    """netvsc: one frame to partition `dst_pid`, as an RNDIS PACKET_MSG."""
    pid = actor.pid
    relid = actor.machine.store.get(("vsc", pid, Device.NETWORK))
    message = net.packet_msg(net.frame(dst_pid, pid, payload))
    tid = yield from _send_rndis(actor, relid, message, net.CHANNEL_DATA)
    return tid is not None


def receive(actor: Actor):
    """netvsc: the payload of the next frame the switch delivers."""
    pid = actor.pid
    relid = actor.machine.store.get(("vsc", pid, Device.NETWORK))

    def take(m: Machine):
        queued = m.store.get(_key(pid, "rx"), ())
        if not queued:
            return None
        m.store.set(_key(pid, "rx"), queued[1:] or None)
        return queued[0]

    return (yield from _until(actor, relid, take, "network frame"))
