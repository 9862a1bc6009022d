"""root.vmbus: the root's VMBus server. It answers each guest's channel messages — contact,
offers (with the event port each channel signals the root on), GPADLs assembled from their
header and body messages and checked (the guest's own pages, translated through its own map),
opening and closing channels — and may rescind an offer. Every event names the message as
hyperv.h does (CHANNELMSG_*) and carries its bytes, so the Detail pane can decode them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core import sites
from hvlab.model.core.engine import Actor, Do, WaitUntil
from hvlab.model.core.events import EventKind
from hvlab.model.hypervisor import hypercall_layouts as L
from hvlab.model.hypervisor import memory, partitions, synic
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvCallCode
from hvlab.model.hypervisor.invoke import call
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.hypervisor.synic import PORT_TYPE_EVENT
from hvlab.model.vmbus.channels import (
    GPADL_HEADER,
    INTERFACE_GUIDS,
    SINT,
    VERSION_WIN10_V5,
    VMBUS_CONNECTION,
    ChannelMessage,
    Device,
    chan,
    channel_connection,
    instance_guid,
    kind_of,
    label_of,
    layout_of,
    message,
    pfns,
    post,
    read,
    relid_of,
    root_event_port,
    root_to_child_connection,
    set_chan,
)

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


SERVER = "root.vmbus"
MAX_GPADL_PAGES = 64  # the largest GPADL the model's server accepts
RING_PAGES = 4  # a ring GPADL: out-ring header and data, in-ring header and data
RING_OFFSET = 2  # the page the in-ring starts at (downstream_ringbuffer_pageoffset)
REFUSED = 0xC0000001  # STATUS_UNSUCCESSFUL, what a refused GPADL or open reports


# -- root side ----------------------------------------------------------------------------------
def server(actor: Actor):
    """root.vmbus: answers each guest's channel messages. Runs for the whole session."""
    waiting = synic.message_waiting(ROOT_PID, 0, SINT)
    while True:
        yield WaitUntil(waiting, "VMBus message", (synic.slot_key(ROOT_PID, 0, SINT),))
        msg = yield Do(lambda m: synic.consume(m, ROOT_PID, 0, SINT, SERVER), "read message")
        sender = msg[2]
        replies = yield Do(lambda m, p=msg[1], s=sender: handle(m, s, p), "handle message")
        conn = root_to_child_connection(sender, "message")
        for reply in replies:
            yield from post(actor, conn, reply, (sender, 0, SINT))


def message_detail(payload: bytes) -> dict:
    """What an event says of a channel message: its name, its layout and its bytes."""
    return {
        "message": label_of(payload),
        "layout": layout_of(payload).name,
        "bytes": payload.hex(),
    }


WATCHED = (ChannelMessage.GPADL_HEADER, ChannelMessage.GPADL_BODY, ChannelMessage.OPENCHANNEL)


def handle(m: Machine, sender: int, payload: bytes) -> list[bytes]:
    """One control message from `sender`; returns the replies to post back."""
    kind = kind_of(payload)
    fields = read(payload)
    child = m.name(sender) if partitions.exists(m.store, sender) else f"partition {sender}"

    def note(what: str, protection: str | None = None, reply=None, **detail) -> None:
        """An event of the server's: the child's message it handled, or (`reply`) a message of
        its own it sends the child, drawn from the server to the child."""
        if reply is None:
            path, sent = (f"{child}.kernel", "hypervisor", SERVER), {"from": child}
        else:
            path, sent = (SERVER, "hypervisor", f"{child}.kernel"), {"to": child}
        m.emit(
            EventKind.VMBUS,
            SERVER,
            what,
            protection=protection,
            path=path,
            detail={**message_detail(reply or payload), **sent, **detail},
        )

    if kind in WATCHED:  # a plugin defense may refuse a GPADL or an open, as the server does
        refusal = sites.refused_by(
            m, sites.VMBUS_MESSAGE, partition=child, message=ChannelMessage(kind).label,
            relid=fields.get("child_relid", 0),
        )  # fmt: skip
        if refusal is not None:
            defense, why = refusal
            relid = fields.get("child_relid", 0)
            if kind == ChannelMessage.OPENCHANNEL:
                what, answer = "open-refused", {"openid": fields["openid"], "status": REFUSED}
                detail, reply_kind = {"relid": relid}, ChannelMessage.OPENCHANNEL_RESULT
            else:
                gpadl = fields["gpadl"]
                what, answer = "gpadl-refused", {"gpadl": gpadl, "creation_status": REFUSED}
                detail, reply_kind = {"gpadl": gpadl}, ChannelMessage.GPADL_CREATED
            note(what, protection=defense, why=why, **detail)
            return [message(reply_kind, child_relid=relid, **answer)]
    if kind == ChannelMessage.INITIATE_CONTACT:
        ok = fields["vmbus_version_requested"] == VERSION_WIN10_V5
        note("contact" if ok else "contact-refused", version=fields["vmbus_version_requested"])
        reply = message(
            ChannelMessage.VERSION_RESPONSE,
            version_supported=int(ok),
            msg_conn_id=VMBUS_CONNECTION if ok else 0,
        )
        return [reply]
    if kind == ChannelMessage.REQUESTOFFERS:
        out = [_offer(m, sender, device) for device in Device]
        for offer, device in zip(out, Device, strict=True):
            note("offer", reply=offer, relid=relid_of(sender, device), device=device.name.lower())
        return [*out, message(ChannelMessage.ALLOFFERS_DELIVERED)]
    if kind in (ChannelMessage.GPADL_HEADER, ChannelMessage.GPADL_BODY):
        done = _gpadl_part(m, sender, kind, payload, fields)
        if done is None:
            note("gpadl-part", gpadl=fields["gpadl"])
            return []
        relid, handle_id, why = done
        status = 0 if why == "ok" else REFUSED
        note(
            "gpadl-created" if not status else "gpadl-refused",
            relid=relid,
            gpadl=handle_id,
            why=None if why == "ok" else why,
        )
        return [
            message(
                ChannelMessage.GPADL_CREATED,
                child_relid=relid,
                gpadl=handle_id,
                creation_status=status,
            )
        ]
    if kind == ChannelMessage.GPADL_TEARDOWN:
        relid, handle_id = fields["child_relid"], fields["gpadl"]
        if chan(m, relid, "owner") == sender:
            m.store.set(("gpadl", relid, handle_id), None)
            m.store.set(("gpadl-gpns", relid, handle_id), None)
        note("gpadl-torndown", relid=relid, gpadl=handle_id)
        return [message(ChannelMessage.GPADL_TORNDOWN, gpadl=handle_id)]
    if kind == ChannelMessage.OPENCHANNEL:
        relid = fields["child_relid"]
        why = _open(m, sender, fields)
        note(
            "open" if why == "ok" else "open-refused", relid=relid, why=None if why == "ok" else why
        )
        return [
            message(
                ChannelMessage.OPENCHANNEL_RESULT,
                child_relid=relid,
                openid=fields["openid"],
                status=0 if why == "ok" else REFUSED,
            )
        ]
    if kind == ChannelMessage.CLOSECHANNEL:
        relid = fields["child_relid"]
        if chan(m, relid, "owner") == sender:
            set_chan(m, relid, "state", "closed")
        note("close", relid=relid)
        return []
    note("message-refused", why="unknown or unexpected channel message")
    return []


def _offer(m: Machine, sender: int, device: Device) -> bytes:
    """Offer one device's channel to a guest. The first time, the channel is recorded and the
    root creates its event port (one flag: the relid) and connects the guest to it."""
    relid = relid_of(sender, device)
    if chan(m, relid, "state") is None:
        m.store.set(("channels",), tuple(sorted((*m.store.get(("channels",), ()), relid))))
        set_chan(m, relid, "owner", sender)
        set_chan(m, relid, "device", int(device))
        set_chan(m, relid, "state", "offered")
        _channel_event_port(m, sender, relid)
    return message(
        ChannelMessage.OFFERCHANNEL,
        **{
            "offer.if_type": INTERFACE_GUIDS[device].bytes_le,
            "offer.if_instance": instance_guid(m.name(sender), device),
        },
        child_relid=relid,
        is_dedicated_interrupt=1,  # signal on connection_id, not the shared connection 2
        connection_id=channel_connection(relid),
    )


def _channel_event_port(m: Machine, pid: int, relid: int) -> None:
    port = root_event_port(relid)
    create = L.CREATE_PORT.pack(
        port_partition_id=ROOT_PID,
        port_id=port,
        connection_partition_id=pid,
        **{
            "port_info.port_type": PORT_TYPE_EVENT,
            "port_info.message_port_info.target_sint": SINT,
            "port_info.event_port_info.base_flag_number": relid,
            "port_info.event_port_info.flag_count": 1,
        },
    )
    call(m, ROOT_PID, HvCallCode.CREATE_PORT, create, actor=SERVER)
    connect = L.CONNECT_PORT.pack(
        connection_partition_id=pid,
        connection_id=channel_connection(relid),
        port_partition_id=ROOT_PID,
        port_id=port,
        **{"connection_info.port_type": PORT_TYPE_EVENT},
    )
    call(m, ROOT_PID, HvCallCode.CONNECT_PORT, connect, actor=SERVER)


def _gpadl_part(m: Machine, sender: int, kind: int, payload: bytes, fields: dict):
    """Take a GPADL_HEADER or GPADL_BODY. Returns None while PFNs are still to come, else
    (relid, handle, "ok" or why it was refused)."""
    st = m.store
    handle_id = fields["gpadl"]
    key = ("gpadl-pending", sender, handle_id)
    if kind == ChannelMessage.GPADL_HEADER:
        relid, ranges = fields["child_relid"], fields["rangecount"]
        count = (fields["range_buflen"] - 8) // 8
        if ranges != 1 or fields["range.byte_offset"] or not 0 < count <= MAX_GPADL_PAGES:
            return relid, handle_id, f"{ranges} range(s) of {count} page(s)"
        if fields["range.byte_count"] != count * PAGE_SIZE:
            return relid, handle_id, "byte_count does not match the page count"
        pending = (relid, count, tuple(pfns(payload, GPADL_HEADER.size)[:count]))
    else:
        pending = st.get(key)
        if pending is None:
            return 0, handle_id, "a GPADL_BODY with no header"
        relid, count, have = pending
        pending = (relid, count, (*have, *pfns(payload, 16)[: count - len(have)]))
    relid, count, have = pending
    if len(have) < count:
        st.set(key, pending)
        return None
    st.set(key, None)
    return relid, handle_id, _check_gpadl(m, sender, relid, handle_id, have)


def _check_gpadl(m: Machine, sender: int, relid: int, handle_id: int, gpns) -> str:
    """Every page the guest's own and writable, translated through its map. (GPADL pages are
    shared only between that guest and the root, under every design.)"""
    if chan(m, relid, "owner") != sender:
        return "not this guest's channel"
    if m.store.get(("gpadl", relid, handle_id)) is not None:
        return f"GPADL {handle_id:#x} exists"
    frames = []
    for gpn in gpns:
        entry = memory.translate(m.store, sender, gpn)
        owner = memory.frame_owner(m.store, entry[0]) if entry else None
        if entry is None or "w" not in entry[1] or owner != m.name(sender):
            return f"page {gpn:#x} is not the guest's own"
        frames.append(entry[0])
    m.store.set(("gpadl", relid, handle_id), tuple(frames))
    m.store.set(("gpadl-gpns", relid, handle_id), tuple(gpns))
    return "ok"


def _open(m: Machine, sender: int, fields: dict) -> str:
    """OPENCHANNEL: the guest's channel, its ring GPADL of four pages split at page 2."""
    relid = fields["child_relid"]
    if chan(m, relid, "owner") != sender:
        return "not this guest's channel"
    if chan(m, relid, "state") not in ("offered", "closed"):
        return f"the channel is {chan(m, relid, 'state')}"
    handle_id = fields["ringbuffer_gpadlhandle"]
    frames = m.store.get(("gpadl", relid, handle_id))
    if frames is None:
        return f"no GPADL {handle_id:#x} on this channel"
    if len(frames) != RING_PAGES or fields["downstream_ringbuffer_pageoffset"] != RING_OFFSET:
        return "the ring GPADL is not two rings of two pages"
    set_chan(m, relid, "gpns", m.store.get(("gpadl-gpns", relid, handle_id)))
    set_chan(m, relid, "frames", frames)
    set_chan(m, relid, "ring_gpadl", handle_id)
    set_chan(m, relid, "state", "open")
    return "ok"


def rescind(m: Machine, relid: int) -> None:
    """The root withdraws an offer (RESCIND_CHANNELOFFER); later packets on it are refused."""
    set_chan(m, relid, "state", "rescinded")
    m.emit(EventKind.VMBUS, SERVER, "rescind", path=(SERVER,), detail={"relid": relid})
