"""VMBus: the control path (channel messages over HvCallPostMessage on SINT 2), GPADLs, and the
channels that pair a guest's VSC with a VSP in the root.

Store keys:
  ("chan", relid, field) -> value    owner (pid), device, state (offered, open, broken,
                                     rescinded, closed), frames (the GPADL's system frames),
                                     gpns (the same pages as the guest sees them), seen
                                     (recent transaction ids), issued (ids the root sent)
  ("channels",) -> (relid, ...)       every channel offered, in id order
  ("vsc", pid, device) -> relid      the guest's record of its open channels

Channel ids (child_relid) are `pid * 16 + device`, unique across the machine, and double as the
event flag number each side signals with.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import TYPE_CHECKING

from hvlab.model.core.engine import Actor, Call, Do, WaitUntil
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor import memory, partitions, synic
from hvlab.model.hypervisor.constants import (
    HV_MESSAGE_PAYLOAD_SIZE,
    PAGE_SIZE,
    VMBUS_MESSAGE_SINT,
    HvCallCode,
    HvStatus,
)
from hvlab.model.hypervisor.partitions import HV_PID, ROOT_PID
from hvlab.model.vmbus.ring import Ring

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

VMBUS_CONNECTION = 1  # child → root messages (HYPERV_NOTES: children post to connection id 1)
EVENT_CONNECTION = 2  # child → root event flags
VMBUS_MESSAGE_TYPE = 1  # the SynIC message type of every channel message
SINT = VMBUS_MESSAGE_SINT
SERVER = "root.vmbus"
VSP_VALIDATES = Protection.VSP_VALIDATES_INPUT.value


class ChannelMessage(IntEnum):
    OFFERCHANNEL = 1
    RESCIND_CHANNELOFFER = 2
    REQUESTOFFERS = 3
    ALLOFFERS_DELIVERED = 4
    OPENCHANNEL = 5
    OPENCHANNEL_RESULT = 6
    CLOSECHANNEL = 7
    GPADL_HEADER = 8
    GPADL_BODY = 9
    GPADL_CREATED = 10
    GPADL_TEARDOWN = 11
    GPADL_TORNDOWN = 12
    INITIATE_CONTACT = 14
    VERSION_RESPONSE = 15


class Device(IntEnum):
    """Stand-ins for the interface GUIDs a real offer carries."""

    STORAGE = 1
    NETWORK = 2


# The four guest pages of each channel: out-ring header, out data, in-ring header, in data.
CHANNEL_PAGES = {Device.STORAGE: (4, 5, 6, 7), Device.NETWORK: (12, 13, 14, 15)}


def root_to_child_connection(pid: int, kind: str) -> int:
    return (0x100 if kind == "message" else 0x200) + pid


def relid_of(pid: int, device: int) -> int:
    return pid * 16 + device


def message(kind: ChannelMessage, *fields: int) -> bytes:
    """A channel message: msgtype u32, padding u32, then u32 fields."""
    return struct.pack("<II", kind, 0) + b"".join(struct.pack("<I", f & 0xFFFFFFFF) for f in fields)


def post_input(conn: int, payload: bytes) -> bytes:
    """HvCallPostMessage's input block."""
    return (
        struct.pack("<IIII", conn, 0, VMBUS_MESSAGE_TYPE, len(payload))
        + payload.ljust(HV_MESSAGE_PAYLOAD_SIZE, b"\0")[:HV_MESSAGE_PAYLOAD_SIZE]
    )


def chan(m: Machine, relid: int, field: str, default=None):
    return m.store.get(("chan", relid, field), default)


def set_chan(m: Machine, relid: int, field: str, value) -> None:
    m.store.set(("chan", relid, field), value)


def channels(m: Machine, device: int | None = None) -> list[int]:
    """Channel ids the root has offered, optionally of one device class, in id order."""
    get = m.store.get
    offered = get(("channels",), ())
    return [r for r in offered if device is None or get(("chan", r, "device")) == device]


def rings(m: Machine, relid: int, side: str) -> tuple[Ring, Ring]:
    """(out ring, in ring) of a channel, as the guest ("guest"), the root ("root") or the
    hypervisor ("hypervisor", physical addresses) sees them."""
    if side == "guest":
        pid, pages = chan(m, relid, "owner"), chan(m, relid, "gpns")
    else:
        pid, pages = (ROOT_PID if side == "root" else HV_PID), chan(m, relid, "frames")
    a, b, c, d = (p * PAGE_SIZE for p in pages)
    return Ring(pid, a, b), Ring(pid, c, d)


# -- guest side ---------------------------------------------------------------------------------
def post(actor: Actor, conn: int, payload: bytes, target: tuple[int, int, int]):
    """Post until the target slot has room (a real guest retries on INSUFFICIENT_BUFFERS)."""
    while True:
        result = yield Call(HvCallCode.POST_MESSAGE, post_input(conn, payload))
        if result.status is not HvStatus.INSUFFICIENT_BUFFERS:
            return result
        slot = synic.slot_key(*target)
        yield WaitUntil(lambda m, s=slot: s not in m.store.data, "message slot free", (slot,))


def receive(actor: Actor):
    """Wait for a message in the actor's own SINT 2 slot and take it."""
    pid = actor.pid
    yield WaitUntil(
        synic.message_waiting(pid, 0, SINT), "VMBus message", (synic.slot_key(pid, 0, SINT),)
    )
    msg = yield Do(lambda m, n=actor.name: synic.consume(m, pid, 0, SINT, n), "read message")
    return msg[1]


def next_tid(m: Machine, pid: int) -> int:
    """The guest's next transaction id (its VSCs share one counter)."""
    tid = m.store.get(("vsc", pid, "tid"), 0) + 1
    m.store.set(("vsc", pid, "tid"), tid)
    return tid


def signal_key(pid: int) -> tuple:
    """The store key of a partition's VMBus event flags."""
    return ("sief", pid, 0, SINT)


def guest_signalled(pid: int, relid: int):
    """A condition: the root has raised the channel's event flag in the guest. It reads one
    key, `signal_key(pid)`."""
    key = signal_key(pid)
    return lambda m: m.store.get(key, 0) >> relid & 1


def clear_guest_flag(m: Machine, pid: int, relid: int) -> None:
    key = ("sief", pid, 0, SINT)
    m.store.set(key, m.store.get(key, 0) & ~(1 << relid) or None)


def fields(payload: bytes, count: int) -> tuple[int, ...]:
    return struct.unpack_from(f"<{count}I", payload.ljust(8 + 4 * count, b"\0"), 8)


def connect(actor: Actor):
    """The guest's VMBus driver: contact, offers, then a GPADL and an open per channel."""
    pid = actor.pid
    root_slot = (ROOT_PID, 0, SINT)
    yield from post(
        actor, VMBUS_CONNECTION, message(ChannelMessage.INITIATE_CONTACT, 0x50002), root_slot
    )
    yield from receive(actor)
    yield from post(actor, VMBUS_CONNECTION, message(ChannelMessage.REQUESTOFFERS), root_slot)
    offers = []
    while True:
        reply = yield from receive(actor)
        kind = struct.unpack_from("<I", reply)[0]
        if kind == ChannelMessage.OFFERCHANNEL:
            relid, device, _conn = fields(reply, 3)
            offers.append((relid, device))
        elif kind == ChannelMessage.ALLOFFERS_DELIVERED:
            break
    for relid, device in offers:
        pages = CHANNEL_PAGES[Device(device)]
        header = message(ChannelMessage.GPADL_HEADER, relid, relid, len(pages), 0)
        header += b"".join(struct.pack("<Q", p) for p in pages)
        yield from post(actor, VMBUS_CONNECTION, header, root_slot)
        created = yield from receive(actor)
        if fields(created, 3)[2] != 0:
            continue
        yield from post(
            actor,
            VMBUS_CONNECTION,
            message(ChannelMessage.OPENCHANNEL, relid, relid, relid, 0, 2),
            root_slot,
        )
        opened = yield from receive(actor)
        if fields(opened, 3)[2] == 0:
            yield Do(lambda m, d=device, r=relid: m.store.set(("vsc", pid, d), r), "channel up")


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
