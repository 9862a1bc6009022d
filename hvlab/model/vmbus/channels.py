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
from hvlab.model.core.protections import Protection
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

VMBUS_CONNECTION = 1  # child → root messages (HYPERV_NOTES: children post to connection id 1)
EVENT_CONNECTION = 2  # child → root event flags
VMBUS_MESSAGE_TYPE = 1  # the SynIC message type of every channel message
SINT = VMBUS_MESSAGE_SINT
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


def fields(payload: bytes, count: int) -> tuple[int, ...]:
    return struct.unpack_from(f"<{count}I", payload.ljust(8 + 4 * count, b"\0"), 8)
