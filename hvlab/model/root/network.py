"""Synthetic networking: netvsc in each guest and the virtual switch that joins them.

With `guest-traffic-via-root` on, the switch is `vmswitch` in the root kernel: a frame goes
netvsc(A) → A's channel → root.vswitch → B's channel → netvsc(B), and the hypervisor only
carries the signals. With it off the switch runs inside the hypervisor, and every frame is
copied through a hypervisor buffer on its way. (The guests' signal path is the same in both.)

A frame (the model's layout): destination partition id u8, source u8, ethertype u16, length
u16, padding u16, then the payload. It travels in an NVSP SEND_RNDIS_PKT (107) message —
type u32, channel type u32, frame length u32, padding u32, frame — and is acknowledged with
SEND_RNDIS_PKT_COMPLETE (108).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.core import topology
from hvlab.model.core.engine import Actor, Call, Do, WaitUntil
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvCallCode
from hvlab.model.hypervisor.invoke import pack
from hvlab.model.root import sites, vsp
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import (
    EVENT_CONNECTION,
    VSP_VALIDATES,
    Device,
    chan,
    channels,
    clear_guest_flag,
    guest_signalled,
    next_tid,
    relid_of,
    signal_key,
)
from hvlab.model.vmbus.channels import rings as channel_rings
from hvlab.model.vmbus.ring import PacketType

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

SEND_RNDIS_PKT = 107
SEND_RNDIS_PKT_COMPLETE = 108
ETHERTYPE_IPV4 = 0x0800
MAX_FRAME = 200
GTVR = Protection.GUEST_TRAFFIC_VIA_ROOT.value


def switch_node(m: Machine) -> str:
    return "root.vswitch" if m.on(GTVR) else "hypervisor.vswitch"


def route(m: Machine, src: str, dst: str) -> tuple[str, ...]:
    """netvsc → channel → switch → channel → netvsc, as the topology routes it."""
    return topology.route(m.design, "network", f"{src}.netvsc", f"{dst}.netvsc")


def frame(dst: int, src: int, payload: bytes) -> bytes:
    return struct.pack("<BBHHH", dst, src, ETHERTYPE_IPV4, len(payload), 0) + payload


def nvsp(kind: int, body: bytes = b"", status: int = 0) -> bytes:
    return struct.pack("<IIII", kind, 0, len(body) if kind == SEND_RNDIS_PKT else status, 0) + body


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


# -- the switch ---------------------------------------------------------------------------------
def vswitch(actor: Actor):
    while True:
        yield WaitUntil(
            lambda m: vsp.device_signalled(m, Device.NETWORK), "network signal", vsp.SIGNAL_KEYS
        )
        yield Do(service, "switch frames")


def service(m: Machine) -> None:
    where = "root" if m.on(GTVR) else "hypervisor"
    actor = switch_node(m)
    for relid in vsp.take_signals(m, channels(m, Device.NETWORK)):
        src = m.name(chan(m, relid, "owner"))
        path = (f"{src}.netvsc", f"{src}.net-channel", actor)
        for packet in vsp.drain(m, actor, relid, path, side=where):
            if packet.desc.type == PacketType.COMP:
                continue  # a guest acknowledging a frame the switch delivered
            forward(m, actor, where, relid, src, packet, path)


def forward(m: Machine, actor: str, where: str, relid: int, src: str, packet, path) -> None:
    payload = packet.payload(m, actor)
    kind, _chtype, length, _ = vsp.u32s(payload, 0, 4)
    body = payload[16 : 16 + length]
    dst_pid = body[0] if body else 0
    dst_relid = relid_of(dst_pid, Device.NETWORK)
    if m.on(VSP_VALIDATES):
        why = None
        if packet.desc.type != PacketType.DATA_INBAND or kind != SEND_RNDIS_PKT:
            why = f"NVSP message {kind} in a type {packet.desc.type:#x} packet"
        elif not 8 <= length <= min(MAX_FRAME, len(payload) - 16):
            why = f"frame length {length} for a {len(payload) - 16}-byte payload"
        elif chan(m, dst_relid, "state") != "open":
            why = f"no switch port for partition {dst_pid}"
        if why:
            vsp.corrupt(m, actor, relid, why, path)
            return
    dst = m.name(dst_pid) if chan(m, dst_relid, "state") == "open" else None
    if dst is None:
        m.emit(EventKind.VSP, actor, "drop", path=path, detail={"why": "unknown destination"})
        return
    full = route(m, src, dst)
    body = sites.vmbus_packet(m, where, src, dst, body)
    if body is None:
        return
    if where == "hypervisor":
        # The frame is copied through hypervisor memory: the design the protection rules out.
        buffer = (m.layout.hv_data.start + 1) * PAGE_SIZE
        m.write(0, buffer, body, actor)
        body = m.read(0, buffer, len(body), actor) or body
    tid = m.store.get(("vswitch", "tid"), 0x1000) + 1
    m.store.set(("vswitch", "tid"), tid)
    m.emit(
        EventKind.VSP,
        actor,
        "switch-frame",
        path=full,
        detail={"from": src, "to": dst, "length": len(body), "trans_id": tid},
    )
    vsp.send(
        m,
        actor,
        dst_relid,
        rings.packet(PacketType.DATA_INBAND, nvsp(SEND_RNDIS_PKT, body), tid),
        full[2:],
        side=where,
    )
    ack = rings.packet(
        PacketType.COMP, nvsp(SEND_RNDIS_PKT_COMPLETE, status=1), packet.desc.trans_id, flags=0
    )
    vsp.send(m, actor, relid, ack, tuple(reversed(full[:3])), side=where)
