"""netvsc: the guest's network driver. It queues each frame for the virtual switch on the
guest's network channel, and acknowledges each frame the switch delivers."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.core.engine import Actor, Call, Do, WaitUntil
from hvlab.model.hypervisor.constants import HvCallCode
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
from hvlab.model.vmbus.network_protocol import (
    SEND_RNDIS_PKT,
    SEND_RNDIS_PKT_COMPLETE,
    frame,
    nvsp,
)
from hvlab.model.vmbus.ring import PacketType

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


# -- guest side ---------------------------------------------------------------------------------
def send(actor: Actor, dst_pid: int, payload: bytes):
    """netvsc: queue one frame for the switch."""
    pid, name = actor.pid, actor.name
    relid = actor.machine.store.get(("vsc", pid, Device.NETWORK))

    def queue(m: Machine):
        out_ring, _ = channel_rings(m, relid, "guest")
        raw = rings.packet(
            PacketType.DATA_INBAND,
            nvsp(SEND_RNDIS_PKT, frame(dst_pid, pid, payload)),
            next_tid(m, pid),
        )
        return rings.write(m, out_ring, name, raw)

    written, was_empty = yield Do(queue, "queue frame")
    if written and was_empty:
        yield Call(HvCallCode.SIGNAL_EVENT, pack(EVENT_CONNECTION | relid << 32))
    return written


def receive(actor: Actor):
    """netvsc: wait for a frame from the switch, acknowledge it, return its payload."""
    pid, name = actor.pid, actor.name
    relid = actor.machine.store.get(("vsc", pid, Device.NETWORK))
    while True:
        yield WaitUntil(guest_signalled(pid, relid), "network signal", (signal_key(pid),))
        got, ack_signal = yield Do(lambda m: _drain(m, pid, name, relid), "read frames")
        if ack_signal:
            yield Call(HvCallCode.SIGNAL_EVENT, pack(EVENT_CONNECTION | relid << 32))
        if got is not None:
            return got


def _drain(m: Machine, pid: int, name: str, relid: int):
    clear_guest_flag(m, pid, relid)
    out_ring, in_ring = channel_rings(m, relid, "guest")
    received, signal = None, False
    while (item := rings.read_packet(m, in_ring, name)) is not None:
        desc, payload = item
        kind, _, length = struct.unpack_from("<III", payload.ljust(12, b"\0"))
        if desc.type == PacketType.DATA_INBAND and kind == SEND_RNDIS_PKT:
            body = payload[16 : 16 + length]
            if received is None:
                received = body[8 : 8 + struct.unpack_from("<H", body.ljust(6, b"\0"), 4)[0]]
            ack = rings.packet(
                PacketType.COMP, nvsp(SEND_RNDIS_PKT_COMPLETE, status=1), desc.trans_id, flags=0
            )
            written, was_empty = rings.write(m, out_ring, name, ack)
            signal = signal or (written and was_empty)
    return received, signal
