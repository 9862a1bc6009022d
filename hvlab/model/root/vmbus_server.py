"""root.vmbus: the root's VMBus server. It answers each guest's channel messages — contact,
offers, GPADLs (checked: the guest's own pages, translated through its own map), opening and
closing channels — and may rescind an offer."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.core.engine import Actor, Do, WaitUntil
from hvlab.model.core.events import EventKind
from hvlab.model.hypervisor import memory, partitions, synic
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.vmbus.channels import (
    SINT,
    ChannelMessage,
    Device,
    chan,
    fields,
    message,
    post,
    relid_of,
    root_to_child_connection,
    set_chan,
)

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


SERVER = "root.vmbus"


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


def handle(m: Machine, sender: int, payload: bytes) -> list[bytes]:
    """One control message from `sender`; returns the replies to post back."""
    kind = struct.unpack_from("<I", payload.ljust(4, b"\0"))[0]
    name = ChannelMessage(kind).name if kind in set(ChannelMessage) else f"type {kind}"
    child = m.name(sender) if partitions.exists(m.store, sender) else f"partition {sender}"

    def note(what: str, protection: str | None = None, **detail) -> None:
        m.emit(
            EventKind.VMBUS,
            SERVER,
            what,
            protection=protection,
            path=(f"{child}.kernel", "hypervisor", SERVER),
            detail={"message": name, "from": child, **detail},
        )

    if kind == ChannelMessage.INITIATE_CONTACT:
        note("contact")
        return [message(ChannelMessage.VERSION_RESPONSE, 1)]
    if kind == ChannelMessage.REQUESTOFFERS:
        out = []
        for device in Device:
            relid = relid_of(sender, device)
            if chan(m, relid, "state") is None:
                m.store.set(("channels",), tuple(sorted((*m.store.get(("channels",), ()), relid))))
                set_chan(m, relid, "owner", sender)
                set_chan(m, relid, "device", int(device))
                set_chan(m, relid, "state", "offered")
            note("offer", relid=relid, device=device.name.lower())
            out.append(message(ChannelMessage.OFFERCHANNEL, relid, device, relid))
        return [*out, message(ChannelMessage.ALLOFFERS_DELIVERED)]
    if kind == ChannelMessage.GPADL_HEADER:
        relid, gpadl, count, _ = fields(payload, 4)
        status, why = _gpadl(m, sender, relid, payload, count)
        note(
            "gpadl-created" if status == 0 else "gpadl-refused",
            None,
            relid=relid,
            gpadl=gpadl,
            why=why,
        )
        return [message(ChannelMessage.GPADL_CREATED, relid, gpadl, status)]
    if kind == ChannelMessage.OPENCHANNEL:
        relid, openid, _gpadl_id, _vp, _offset = fields(payload, 5)
        ok = chan(m, relid, "owner") == sender and chan(m, relid, "frames") is not None
        if ok:
            set_chan(m, relid, "state", "open")
        note("open" if ok else "open-refused", relid=relid)
        return [message(ChannelMessage.OPENCHANNEL_RESULT, relid, openid, 0 if ok else 1)]
    if kind == ChannelMessage.CLOSECHANNEL:
        relid = fields(payload, 1)[0]
        if chan(m, relid, "owner") == sender:
            set_chan(m, relid, "state", "closed")
        note("close", relid=relid)
        return []
    note("message-refused", why="unknown or unexpected channel message")
    return []


def _gpadl(m: Machine, sender: int, relid: int, payload: bytes, count: int) -> tuple[int, str]:
    """Check a GPADL: four pages, each the offering guest's own, translated through its map.
    (Ring pages are shared only between that guest and the root, under every design.)"""
    if chan(m, relid, "owner") != sender:
        return 1, "not this guest's channel"
    if count != 4 or 24 + 8 * count > len(payload):
        return 1, f"range count {count} does not fit the message"
    gpns = struct.unpack_from(f"<{count}Q", payload, 24)
    frames = []
    for gpn in gpns:
        entry = memory.translate(m.store, sender, gpn)
        owner = memory.frame_owner(m.store, entry[0]) if entry else None
        if entry is None or "w" not in entry[1] or owner != m.name(sender):
            return 1, f"page {gpn:#x} is not the guest's own"
        frames.append(entry[0])
    set_chan(m, relid, "gpns", tuple(gpns))
    set_chan(m, relid, "frames", tuple(frames))
    return 0, "ok"


def rescind(m: Machine, relid: int) -> None:
    """The root withdraws an offer (RESCIND_CHANNELOFFER); later packets on it are refused."""
    set_chan(m, relid, "state", "rescinded")
    m.emit(EventKind.VMBUS, SERVER, "rescind", path=(SERVER,), detail={"relid": relid})
