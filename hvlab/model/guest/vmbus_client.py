"""The guest's VMBus driver: it contacts the root's VMBus server, takes its offers, and for
each channel offers the four ring pages as a GPADL and opens the channel."""

from __future__ import annotations

import struct

from hvlab.model.core.engine import Actor, Do
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.vmbus.channels import (
    CHANNEL_PAGES,
    SINT,
    VMBUS_CONNECTION,
    ChannelMessage,
    Device,
    fields,
    message,
    post,
    receive,
)


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
