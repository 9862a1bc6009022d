"""The virtual switch that joins the guests' netvsc drivers (guest/netvsc.py; the messages
they exchange are in vmbus/network_protocol.py).

With `guest-traffic-via-root` on, the switch is `vmswitch` in the root kernel: a frame goes
netvsc(A) → A's channel → root.vswitch → B's channel → netvsc(B), and the hypervisor only
carries the signals. With it off the switch runs inside the hypervisor, and every frame is
copied through a hypervisor buffer on its way. (The guests' signal path is the same in both.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.engine import Actor, Do, WaitUntil
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.model.root import sites, vsp
from hvlab.model.vmbus import ring as rings
from hvlab.model.vmbus.channels import (
    VSP_VALIDATES,
    Device,
    chan,
    channels,
    relid_of,
)
from hvlab.model.vmbus.network_protocol import (
    MAX_FRAME,
    SEND_RNDIS_PKT,
    SEND_RNDIS_PKT_COMPLETE,
    nvsp,
    route,
)
from hvlab.model.vmbus.ring import PacketType

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

GTVR = Protection.GUEST_TRAFFIC_VIA_ROOT.value


def switch_node(m: Machine) -> str:
    return "root.vswitch" if m.on(GTVR) else "hypervisor.vswitch"


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
