"""The guest's VMBus driver: it contacts the root's VMBus server (protocol 5.0), takes its
offers, and for each channel it knows offers the four ring pages as a GPADL and opens it. It
also sets up the other GPADLs a VSC asks for (netvsc's receive and send buffers)."""

from __future__ import annotations

from hvlab.model.core.engine import Actor, Do, WaitUntil
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import (
    CHANNEL_PAGES,
    CONTACT_CONNECTION,
    DEVICE_OF_GUID,
    GPADL_HANDLE_BASE,
    SINT,
    VERSION_WIN10_V5,
    ChannelMessage,
    clear_guest_flag,
    gpadl_messages,
    guest_signalled,
    kind_of,
    message,
    next_tid,
    post,
    read,
    receive,
    signal_connection,
    signal_key,
    signal_root,
)
from hvlab.model.vmbus.channels import rings as channel_rings
from hvlab.model.vmbus.ring import PacketType

ROOT_SLOT = (ROOT_PID, 0, SINT)


def connect(actor: Actor):
    """Contact, offers, then a GPADL and an open per channel. Records, per device, the
    channel's relid and the connection id the offer gave to signal the root on."""
    pid = actor.pid
    contact = message(
        ChannelMessage.INITIATE_CONTACT,
        vmbus_version_requested=VERSION_WIN10_V5,
        target_vcpu=0,
        msg_sint=SINT,
    )
    yield from post(actor, CONTACT_CONNECTION, contact, ROOT_SLOT)
    response = read((yield from receive(actor)))
    if not response.get("version_supported"):
        return
    conn = response["msg_conn_id"]  # every later message goes there (protocol >= 5.0)
    yield Do(lambda m: m.store.set(("vsc", pid, "msg_conn"), conn), "message connection")
    yield from post(actor, conn, message(ChannelMessage.REQUESTOFFERS), ROOT_SLOT)
    offers = []
    while True:
        reply = yield from receive(actor)
        kind = kind_of(reply)
        if kind == ChannelMessage.OFFERCHANNEL:
            offer = read(reply)
            device = DEVICE_OF_GUID.get(offer["offer.if_type"])
            if device is not None:  # a device this guest has no driver for stays unopened
                offers.append((offer["child_relid"], device, offer["connection_id"]))
        elif kind == ChannelMessage.ALLOFFERS_DELIVERED:
            break
    for relid, device, signal_conn in offers:
        handle = yield from establish_gpadl(actor, conn, relid, list(CHANNEL_PAGES[device]))
        if handle is None:
            continue
        opening = message(
            ChannelMessage.OPENCHANNEL,
            child_relid=relid,
            openid=relid,
            ringbuffer_gpadlhandle=handle,
            target_vp=0,
            downstream_ringbuffer_pageoffset=2,  # the in-ring follows the two out-ring pages
        )
        yield from post(actor, conn, opening, ROOT_SLOT)
        opened = read((yield from receive(actor)))
        if opened.get("status") == 0:

            def up(m, d=device, r=relid, c=signal_conn):
                m.store.set(("vsc", pid, d), r)
                m.store.set(("vsc", pid, ("signal", r)), c)

            yield Do(up, "channel up")


def establish_gpadl(actor: Actor, conn: int, relid: int, gpns: list[int]):
    """Describe guest pages to the root as a GPADL on a channel; returns its handle, or None
    if the root refused it."""
    pid = actor.pid

    def next_handle(m):
        n = m.store.get(("vsc", pid, "gpadls"), 0)
        m.store.set(("vsc", pid, "gpadls"), n + 1)
        return GPADL_HANDLE_BASE + n

    handle = yield Do(next_handle, "GPADL handle")
    for part in gpadl_messages(relid, handle, gpns):
        yield from post(actor, conn, part, ROOT_SLOT)
    created = read((yield from receive(actor)))
    return handle if created.get("creation_status") == 0 else None


# -- packets on an open channel (what storvsc and netvsc share) -----------------------------
def submit(actor: Actor, pid: int, relid: int, make_packet, label: str):
    """Queue a packet on the channel's out-ring (`make_packet(m, tid)` builds it with the next
    transaction id) and signal the root on the empty → non-empty edge, as vmbus_sendpacket
    does. Returns the transaction id, or None if the ring was full. (`actor` may be an attack's
    handle: only its name is used.)"""
    name = actor.name

    def queue(m):
        out_ring, _ = channel_rings(m, relid, "guest")
        tid = next_tid(m, pid)
        written, was_empty = rings.write(m, out_ring, name, make_packet(m, tid))
        return (tid if written else None), was_empty, signal_connection(m, pid, relid)

    tid, was_empty, conn = yield Do(queue, label)
    if tid is not None and was_empty:
        yield signal_root(conn)
    return tid


def await_completion(actor: Actor, pid: int, relid: int, tid: int, label: str):
    """Wait for the root's signal, then take packets off the in-ring until the completion of
    transaction `tid`; returns its payload."""
    name = actor.name
    while True:
        yield WaitUntil(guest_signalled(pid, relid), label, (signal_key(pid),))

        def take(m):
            clear_guest_flag(m, pid, relid)
            _, in_ring = channel_rings(m, relid, "guest")
            while (got := rings.read_packet(m, in_ring, name)) is not None:
                desc, payload = got
                if desc.type == PacketType.COMP and desc.trans_id == tid:
                    return payload
            return None

        payload = yield Do(take, "read completion")
        if payload is not None:
            return payload
