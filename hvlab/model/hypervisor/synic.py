"""The synthetic interrupt controller: message slots (SIM) and event flags (SIEF) per VP.

Store keys:
  ("sim", pid, vp, sint) -> (type, payload, sender)  a busy slot; absent means free. The sender
                                                     (partition id, 0 for the hypervisor) stands
                                                     in for the port the message arrived on.
  ("sief", pid, vp, sint) -> int                              event flag bits
  ("port", pid, port id) -> (type, target vp, target sint, base flag)
  ("conn", pid, connection id) -> (port partition id, port id)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hvlab.model.core.events import EventKind
from hvlab.model.hypervisor.constants import HvStatus

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

PORT_TYPE_MESSAGE = 1
PORT_TYPE_EVENT = 2


def slot_key(pid: int, vp: int, sint: int) -> tuple:
    """The store key of a message slot."""
    return ("sim", pid, vp, sint)


def slot(machine: Machine, pid: int, vp: int, sint: int):
    return machine.store.get(("sim", pid, vp, sint))


def message_waiting(pid: int, vp: int, sint: int):
    """A wake-up condition: a message is in the slot. It reads one key, `slot_key(...)`."""
    key = slot_key(pid, vp, sint)
    return lambda m: key in m.store.data


def post(
    machine: Machine,
    pid: int,
    vp: int,
    sint: int,
    msg_type: int,
    payload: Any,
    actor: str,
    sender: int = 0,
) -> HvStatus:
    """Deliver a message into a SINT slot; a busy slot means no free buffer."""
    target = machine.name(pid)
    if slot(machine, pid, vp, sint) is not None:
        machine.emit(
            EventKind.MESSAGE,
            actor,
            "slot-busy",
            status=HvStatus.INSUFFICIENT_BUFFERS,
            path=("hypervisor", f"{target}.kernel"),
            detail={"to": target, "vp": vp, "sint": sint},
        )
        return HvStatus.INSUFFICIENT_BUFFERS
    body = payload if isinstance(payload, bytes) else repr(sorted(payload.items())).encode()
    machine.store.set(("sim", pid, vp, sint), (int(msg_type), body, sender))
    machine.emit(
        EventKind.MESSAGE,
        actor,
        "post",
        path=("hypervisor", f"{target}.kernel"),
        detail={"to": target, "vp": vp, "sint": sint, "type": int(msg_type), "size": len(body)},
    )
    return HvStatus.SUCCESS


def consume(machine: Machine, pid: int, vp: int, sint: int, actor: str):
    """The partition reads its slot and frees it (writes HvMessageTypeNone)."""
    message = slot(machine, pid, vp, sint)
    if message is None:
        return None
    machine.store.set(("sim", pid, vp, sint), None)
    machine.emit(
        EventKind.MESSAGE,
        actor,
        "consume",
        path=(f"{machine.name(pid)}.kernel",),
        detail={"vp": vp, "sint": sint, "type": message[0]},
    )
    return message


def set_flag(machine: Machine, pid: int, vp: int, sint: int, flag: int, actor: str) -> None:
    key = ("sief", pid, vp, sint)
    machine.store.set(key, machine.store.get(key, 0) | (1 << flag))
    machine.emit(
        EventKind.SIGNAL,
        actor,
        "event-flag",
        path=("hypervisor", f"{machine.name(pid)}.kernel"),
        detail={"to": machine.name(pid), "vp": vp, "sint": sint, "flag": flag},
    )
