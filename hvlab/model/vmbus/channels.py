"""VMBus: the control path (channel messages over HvCallPostMessage on SINT 2), GPADLs, and the
channels that pair a guest's VSC with a VSP in the root.

Every channel message is laid out as in Linux's `include/linux/hyperv.h` (the structs below).
The handshake a guest makes, protocol 5.0 (VERSION_WIN10_V5): INITIATE_CONTACT on connection
4, VERSION_RESPONSE naming the message connection for everything after (`msg_conn_id`);
REQUESTOFFERS, one OFFERCHANNEL per device (interface and instance GUIDs, the channel's
`child_relid` at 184 and the `connection_id` it signals on at 192), ALLOFFERS_DELIVERED; per
channel a GPADL of its ring pages (GPADL_HEADER with the first PFNs, GPADL_BODY for the rest,
GPADL_CREATED) and OPENCHANNEL / OPENCHANNEL_RESULT.

Store keys:
  ("chan", relid, field) -> value    owner (pid), device, state (offered, open, broken,
                                     rescinded, closed), frames (the ring GPADL's system
                                     frames), gpns (the same pages as the guest sees them),
                                     seen (recent transaction ids), issued (ids the root sent)
  ("gpadl", relid, handle) -> (system frames)   every GPADL a guest set up on a channel
  ("channels",) -> (relid, ...)       every channel offered, in id order
  ("vsc", pid, device) -> relid      the guest's record of its open channels
  ("vsc", pid, "msg_conn") -> id     the message connection the root named in its response

Channel ids (child_relid) are `pid * 16 + device`, unique across the machine. A guest signals
the root on the channel's own connection (flag 0 of an event port whose base flag is the relid);
the root signals the guest with flag relid on its event connection to the guest.
"""

from __future__ import annotations

import uuid
from enum import IntEnum
from typing import TYPE_CHECKING

from hvlab.model.core.engine import Actor, Call, Do, WaitUntil
from hvlab.model.core.protections import Protection
from hvlab.model.core.wire import Struct, le, raw
from hvlab.model.hypervisor import hypercall_layouts as L
from hvlab.model.hypervisor import synic
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

HYPERV_H = "include/linux/hyperv.h"
VERSION_WIN10_V5 = (5 << 16) | 0
CONTACT_CONNECTION = 4  # VMBUS_MESSAGE_CONNECTION_ID_4: INITIATE_CONTACT on protocol >= 5.0
VMBUS_CONNECTION = 1  # VMBUS_MESSAGE_CONNECTION_ID: what the root names in its response
EVENT_CONNECTION = 2  # VMBUS_EVENT_CONNECTION_ID: the pre-win7 shared event connection
CHANNEL_CONNECTION = 0x10000  # + relid: each channel's own connection (the model's numbering)
VMBUS_MESSAGE_TYPE = 1  # the SynIC message type of every channel message (connection.c)
SINT = VMBUS_MESSAGE_SINT
VSP_VALIDATES = Protection.VSP_VALIDATES_INPUT.value
GPADL_HANDLE_BASE = 0xE1E10  # where a guest's GPADL handles start (Linux: next_gpadl_handle)
HEADER_PFNS = 26  # PFNs that fit in a GPADL_HEADER after its 28 bytes
BODY_PFNS = 28  # PFNs per GPADL_BODY after its 16 bytes


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

    @property
    def label(self) -> str:
        return f"CHANNELMSG_{self.name}"


class Device(IntEnum):
    """The model's two synthetic devices; a real offer names each by its interface GUID."""

    STORAGE = 1
    NETWORK = 2


# Interface type GUIDs of the real devices (storvsc_drv.c's SCSI, netvsc_drv.c's network).
INTERFACE_GUIDS = {
    Device.STORAGE: uuid.UUID("ba6163d9-04a1-4d29-b605-72e2ffb1dc7f"),
    Device.NETWORK: uuid.UUID("f8615163-df3e-46c5-913f-f2d2f965ed0e"),
}
DEVICE_OF_GUID = {g.bytes_le: d for d, g in INTERFACE_GUIDS.items()}
INSTANCE_NAMESPACE = uuid.UUID("6a5e3f1c-0c7e-4b8f-9a43-7c5bd5a1e0a1")  # model-only

# The four guest pages of each channel: out-ring header, out data, in-ring header, in data.
CHANNEL_PAGES = {Device.STORAGE: (4, 5, 6, 7), Device.NETWORK: (12, 13, 14, 15)}

MESSAGE_HEADER = Struct(
    "vmbus_channel_message_header", 8, le("msgtype", 0, 4), le("padding", 4, 4), source=HYPERV_H
)
_HEADER = MESSAGE_HEADER.nested("header.")
INITIATE_CONTACT = Struct(
    "vmbus_channel_initiate_contact",
    40,
    *_HEADER,
    le("vmbus_version_requested", 8, 4),
    le("target_vcpu", 12, 4),
    le("msg_sint", 16, 1),
    le("monitor_page1", 24, 8),
    le("monitor_page2", 32, 8),
    source=HYPERV_H,
)
VERSION_RESPONSE = Struct(
    "vmbus_channel_version_response",
    16,
    *_HEADER,
    le("version_supported", 8, 1),
    le("connection_state", 9, 1),
    le("msg_conn_id", 12, 4),
    source=HYPERV_H,
)
OFFER_CHANNEL = Struct(
    "vmbus_channel_offer_channel",
    196,
    *_HEADER,
    raw("offer.if_type", 8, 16),
    raw("offer.if_instance", 24, 16),
    le("offer.chn_flags", 56, 2),
    le("offer.mmio_megabytes", 58, 2),
    raw("offer.u.std.user_def", 60, 120),
    le("offer.sub_channel_index", 180, 2),
    le("child_relid", 184, 4),
    le("monitorid", 188, 1),
    le("monitor_allocated", 189, 1),
    le("is_dedicated_interrupt", 190, 2),
    le("connection_id", 192, 4),
    source=HYPERV_H,
)
RELID_MESSAGE = Struct(
    "vmbus_channel_rescind_offer", 12, *_HEADER, le("child_relid", 8, 4), source=HYPERV_H
)
CLOSE_CHANNEL = Struct(
    "vmbus_channel_close_channel", 12, *_HEADER, le("child_relid", 8, 4), source=HYPERV_H
)
GPADL_HEADER = Struct(
    "vmbus_channel_gpadl_header",
    28,  # and the PFNs from 28 (a struct of 20 bytes with its first gpa_range)
    *_HEADER,
    le("child_relid", 8, 4),
    le("gpadl", 12, 4),
    le("range_buflen", 16, 2),
    le("rangecount", 18, 2),
    le("range.byte_count", 20, 4),
    le("range.byte_offset", 24, 4),
    source=HYPERV_H,
)
GPADL_BODY = Struct(
    "vmbus_channel_gpadl_body",
    16,  # and the PFNs from 16
    *_HEADER,
    le("msgnumber", 8, 4),
    le("gpadl", 12, 4),
    source=HYPERV_H,
)
GPADL_CREATED = Struct(
    "vmbus_channel_gpadl_created",
    20,
    *_HEADER,
    le("child_relid", 8, 4),
    le("gpadl", 12, 4),
    le("creation_status", 16, 4),
    source=HYPERV_H,
)
GPADL_TEARDOWN = Struct(
    "vmbus_channel_gpadl_teardown",
    16,
    *_HEADER,
    le("child_relid", 8, 4),
    le("gpadl", 12, 4),
    source=HYPERV_H,
)
GPADL_TORNDOWN = Struct(
    "vmbus_channel_gpadl_torndown", 12, *_HEADER, le("gpadl", 8, 4), source=HYPERV_H
)
OPEN_CHANNEL = Struct(
    "vmbus_channel_open_channel",
    148,
    *_HEADER,
    le("child_relid", 8, 4),
    le("openid", 12, 4),
    le("ringbuffer_gpadlhandle", 16, 4),
    le("target_vp", 20, 4),
    le("downstream_ringbuffer_pageoffset", 24, 4),
    raw("userdata", 28, 120),
    source=HYPERV_H,
)
OPEN_RESULT = Struct(
    "vmbus_channel_open_result",
    20,
    *_HEADER,
    le("child_relid", 8, 4),
    le("openid", 12, 4),
    le("status", 16, 4),
    source=HYPERV_H,
)
LAYOUTS = {
    ChannelMessage.INITIATE_CONTACT: INITIATE_CONTACT,
    ChannelMessage.VERSION_RESPONSE: VERSION_RESPONSE,
    ChannelMessage.REQUESTOFFERS: MESSAGE_HEADER,
    ChannelMessage.ALLOFFERS_DELIVERED: MESSAGE_HEADER,
    ChannelMessage.OFFERCHANNEL: OFFER_CHANNEL,
    ChannelMessage.RESCIND_CHANNELOFFER: RELID_MESSAGE,
    ChannelMessage.GPADL_HEADER: GPADL_HEADER,
    ChannelMessage.GPADL_BODY: GPADL_BODY,
    ChannelMessage.GPADL_CREATED: GPADL_CREATED,
    ChannelMessage.GPADL_TEARDOWN: GPADL_TEARDOWN,
    ChannelMessage.GPADL_TORNDOWN: GPADL_TORNDOWN,
    ChannelMessage.OPENCHANNEL: OPEN_CHANNEL,
    ChannelMessage.OPENCHANNEL_RESULT: OPEN_RESULT,
    ChannelMessage.CLOSECHANNEL: CLOSE_CHANNEL,
}


def message(kind: ChannelMessage, tail: bytes = b"", **values) -> bytes:
    """A channel message of `kind`, its fields named as in its layout."""
    layout = LAYOUTS[kind]
    type_field = "header.msgtype" if "header.msgtype" in layout.by_name else "msgtype"
    return layout.pack(tail, **{type_field: int(kind)}, **values)


def kind_of(payload: bytes) -> int:
    return MESSAGE_HEADER.get(payload, "msgtype")


def layout_of(payload: bytes) -> Struct:
    """The layout of a channel message by its type (an unknown type: its header only)."""
    return LAYOUTS.get(kind_of(payload), MESSAGE_HEADER)


def label_of(payload: bytes) -> str:
    kind = kind_of(payload)
    return (
        ChannelMessage(kind).label if kind in ChannelMessage._value2member_map_ else f"type {kind}"
    )


def read(payload: bytes) -> dict:
    """A channel message's fields by name."""
    return layout_of(payload).unpack(payload)


def pfns(payload: bytes, start: int) -> list[int]:
    """The u64 page numbers a GPADL message carries from byte `start` to its end."""
    count = max(0, len(payload) - start) // 8
    return [
        int.from_bytes(payload[start + 8 * i : start + 8 * i + 8], "little") for i in range(count)
    ]


def gpadl_messages(relid: int, handle: int, pages: list[int]) -> list[bytes]:
    """A GPADL as the guest posts it: the header with the first PFNs, bodies with the rest."""
    head = pages[:HEADER_PFNS]
    out = [
        message(
            ChannelMessage.GPADL_HEADER,
            b"".join(p.to_bytes(8, "little") for p in head),
            child_relid=relid,
            gpadl=handle,
            range_buflen=8 + 8 * len(pages),
            rangecount=1,
            **{"range.byte_count": len(pages) * PAGE_SIZE, "range.byte_offset": 0},
        )
    ]
    rest = pages[HEADER_PFNS:]
    for n in range(0, len(rest), BODY_PFNS):
        chunk = rest[n : n + BODY_PFNS]
        out.append(
            message(
                ChannelMessage.GPADL_BODY,
                b"".join(p.to_bytes(8, "little") for p in chunk),
                msgnumber=n // BODY_PFNS + 1,
                gpadl=handle,
            )
        )
    return out


def instance_guid(partition: str, device: int) -> bytes:
    """The instance GUID of a VM's device, stable for its name and device (model-only)."""
    return uuid.uuid5(INSTANCE_NAMESPACE, f"{partition}/{Device(device).name}").bytes_le


def channel_connection(relid: int) -> int:
    return CHANNEL_CONNECTION + relid


def root_to_child_connection(pid: int, kind: str) -> int:
    """The root's connection ids to a child's message and event ports (the model's numbering)."""
    return (0x100 if kind == "message" else 0x200) + pid


GUEST_MESSAGE_PORT, GUEST_EVENT_PORT = 1, 2  # a child's ports for the root's messages and signals


def root_message_port(pid: int) -> int:
    """The root's message port for one child's channel messages (connections 4 and 1)."""
    return 0x100 + pid


def root_event_port(relid: int) -> int:
    """The root's event port of one channel: its only flag is flag `relid` of the root's SINT 2."""
    return CHANNEL_CONNECTION + relid


def relid_of(pid: int, device: int) -> int:
    return pid * 16 + device


def post_input(conn: int, payload: bytes) -> bytes:
    """HvCallPostMessage's input block."""
    return L.POST_MESSAGE.pack(
        connectionid=conn,
        message_type=VMBUS_MESSAGE_TYPE,
        payload_size=len(payload),
        payload=payload[:HV_MESSAGE_PAYLOAD_SIZE],
    )


def signal_input(connection_id: int, flag: int = 0) -> bytes:
    """HvCallSignalEvent's input, as a guest passes it fast (in RDX)."""
    return L.SIGNAL_EVENT.pack(connectionid=connection_id, flag_number=flag)


def signal_root(connection_id: int) -> Call:
    """The operation a guest's VSC signals the root with: a fast SignalEvent on the connection
    the channel's offer named, flag 0 (Linux's vmbus_set_event)."""
    return Call(HvCallCode.SIGNAL_EVENT, signal_input(connection_id), fast=True)


def signal_connection(m: Machine, pid: int, relid: int) -> int:
    """The connection id a guest signals a channel on, as its VMBus driver recorded it."""
    return m.store.get(("vsc", pid, ("signal", relid)), 0)


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


# -- posting and taking channel messages (either side) ------------------------------------------
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
