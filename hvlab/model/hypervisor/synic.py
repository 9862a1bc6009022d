"""The synthetic interrupt controller: message slots (SIM) and event flags (SIEF) per VP.

Store keys:
  ("sim", pid, vp, sint) -> (type, payload, sender)  a busy slot; absent means free. The sender
                                                     (partition id, 0 for the hypervisor) stands
                                                     in for the port the message arrived on.
  ("sief", pid, vp, sint) -> int                              event flag bits
  ("port", pid, port id) -> (type, target vp, target sint, base flag, flag count)
  ("synic", pid, register) -> value          the partition's SynIC MSRs as it last wrote them:
                                              "scontrol", "simp", "siefp", ("sint", n)

A message or flag reaches a partition only once it has enabled its SynIC (SCONTROL), its
message page (SIMP) and the SINT (unmasked). Simplification: the model keeps each slot's
message in the store, not in the bytes of the SIMP page, and queues nothing for a SINT that is
still masked — the poster gets HV_STATUS_INSUFFICIENT_BUFFERS, as when a port's queue is full.
  ("conn", pid, connection id) -> (port partition id, port id)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hvlab.model.core.engine import WriteMsr
from hvlab.model.core.events import EventKind
from hvlab.model.hypervisor.constants import (
    HV_EVENT_FLAGS_COUNT,
    MSR_SCONTROL,
    MSR_SIEFP,
    MSR_SIMP,
    MSR_SINT0,
    SINT_MASKED,
    HvStatus,
)

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

PORT_TYPE_MESSAGE = 1
PORT_TYPE_EVENT = 2
EVENT_FLAGS = HV_EVENT_FLAGS_COUNT
SINT_VECTOR = 0x90  # the vector a kernel gives its SINTs (any value with the mask bit clear)
WHY = {
    HvStatus.INSUFFICIENT_BUFFERS: "the target's message slot is busy, or its SINT not enabled",
}


def enabled(machine: Machine, pid: int, sint: int) -> bool:
    """The partition's SynIC is on, with its message page, and the SINT unmasked."""
    get = machine.store.get
    if not (get(("synic", pid, "scontrol"), 0) & 1 and get(("synic", pid, "simp"), 0) & 1):
        return False
    return not get(("synic", pid, ("sint", sint)), SINT_MASKED) & SINT_MASKED


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
    """Deliver a message into a SINT slot; a busy slot, or a SINT the target has not enabled,
    means no free buffer."""
    target = machine.name(pid)
    refused = (
        "sint-not-enabled"
        if not enabled(machine, pid, sint)
        else "slot-busy"
        if slot(machine, pid, vp, sint) is not None
        else None
    )
    if refused:
        machine.emit(
            EventKind.MESSAGE,
            actor,
            refused,
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
    """Set an event flag (a partition whose SIEF page or SINT is not enabled sees nothing: the
    flag is still set, as the hypervisor records it, but no interrupt is raised)."""
    key = ("sief", pid, vp, sint)
    machine.store.set(key, machine.store.get(key, 0) | (1 << flag))
    machine.emit(
        EventKind.SIGNAL,
        actor,
        "event-flag",
        path=("hypervisor", f"{machine.name(pid)}.kernel"),
        detail={"to": machine.name(pid), "vp": vp, "sint": sint, "flag": flag},
    )


def enable_synic(sint_pages: tuple[int, int], sints: tuple[int, ...]):
    """A kernel's SynIC set-up: message and event-flag pages, the SINTs it takes, then on."""
    simp, siefp = sint_pages
    yield WriteMsr(MSR_SIMP, simp << 12 | 1)
    yield WriteMsr(MSR_SIEFP, siefp << 12 | 1)
    for sint in sints:
        yield WriteMsr(MSR_SINT0 + sint, SINT_VECTOR)  # bit 16 clear: unmasked
    yield WriteMsr(MSR_SCONTROL, 1)
