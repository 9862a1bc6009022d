"""The handlers of the SynIC calls (messages, events, ports, connections), the address-space
flushes, and the counterfactual's maintenance interface. Each registers itself in the table."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.hypervisor import hypercall_layouts as L
from hvlab.model.hypervisor import memory, synic
from hvlab.model.hypervisor.constants import (
    HV_MESSAGE_PAYLOAD_SIZE,
    HV_SYNIC_SINT_COUNT,
    PAGE_SIZE,
    HvCallCode,
    HvStatus,
    Privilege,
)
from hvlab.model.hypervisor.hypercall_abi import Call, Reject, hypercall_spec
from hvlab.model.hypervisor.memory import HYPERVISOR

if TYPE_CHECKING:
    pass


# -- SynIC messages and events -----------------------------------------------------------------
@hypercall_spec(HvCallCode.POST_MESSAGE, layout=L.POST_MESSAGE, privilege=Privilege.POST_MESSAGES)
def post_message(call: Call) -> None:
    """A message of up to 240 bytes to the port a connection of the caller's leads to."""
    conn_id, msg_type = call.f("connectionid"), call.f("message_type")
    size = call.f("payload_size")
    if size > HV_MESSAGE_PAYLOAD_SIZE:
        raise Reject(HvStatus.INVALID_PARAMETER, f"payload of {size} bytes")
    if msg_type & 0x8000_0000:
        raise Reject(
            HvStatus.INVALID_PARAMETER, "message types with the top bit are the hypervisor's"
        )
    port_pid, port = _connection(call, conn_id, synic.PORT_TYPE_MESSAGE)
    status = synic.post(
        call.m,
        port_pid,
        port[1],
        port[2],
        msg_type,
        call.f("payload")[:size],
        actor=HYPERVISOR,
        sender=call.pid,
    )
    if status is not HvStatus.SUCCESS:
        raise Reject(status, synic.WHY.get(status, "the message cannot be delivered"))
    call.notes.update(connection=conn_id, to=call.m.name(port_pid), type=msg_type)


def _connection(call: Call, conn_id: int, port_type: int):
    ref = call.store.get(("conn", call.pid, conn_id))
    if ref is None:
        raise Reject(HvStatus.INVALID_CONNECTION_ID, f"connection {conn_id:#x}")
    port = call.store.get(("port", ref[0], ref[1]))
    if port is None or port[0] != port_type:
        raise Reject(HvStatus.INVALID_CONNECTION_ID, f"connection {conn_id:#x} has no such port")
    return ref[0], port


@hypercall_spec(
    HvCallCode.SIGNAL_EVENT,
    layout=L.SIGNAL_EVENT,
    privilege=Privilege.SIGNAL_EVENTS,
    fast_ok=True,
)
def signal_event(call: Call) -> None:
    """Set an event flag of the port a connection leads to: the port's base flag plus
    flag_number, which must be below the port's flag count. Linux issues it fast (RDX)."""
    conn_id, flag = call.f("connectionid"), call.f("flag_number")
    port_pid, port = _connection(call, conn_id, synic.PORT_TYPE_EVENT)
    if flag >= port[4]:
        raise Reject(HvStatus.INVALID_PARAMETER, f"flag {flag} of a port with {port[4]} flag(s)")
    synic.set_flag(call.m, port_pid, port[1], port[2], port[3] + flag, actor=HYPERVISOR)
    call.notes.update(connection=conn_id, to=call.m.name(port_pid), flag=port[3] + flag)


@hypercall_spec(HvCallCode.CREATE_PORT, layout=L.CREATE_PORT, privilege=Privilege.CREATE_PORT)
def create_port(call: Call) -> None:
    """A message or event port in a partition, for connections of `connection_partition_id`:
    its target SINT and VP, and for an event port its base flag number and flag count."""
    pid = call.target(call.f("port_partition_id"), allow_self=True)
    port_id, kind = call.f("port_id"), call.f("port_info.port_type")
    sint = call.f("port_info.message_port_info.target_sint")
    vp = call.f("port_info.message_port_info.target_vp")
    base = call.f("port_info.event_port_info.base_flag_number")
    count = call.f("port_info.event_port_info.flag_count")
    if kind not in (synic.PORT_TYPE_MESSAGE, synic.PORT_TYPE_EVENT) or sint >= HV_SYNIC_SINT_COUNT:
        raise Reject(HvStatus.INVALID_PARAMETER, f"port type {kind} / sint {sint}")
    if kind == synic.PORT_TYPE_EVENT and (count == 0 or base + count > synic.EVENT_FLAGS):
        raise Reject(HvStatus.INVALID_PARAMETER, f"event flags {base}..{base + count - 1}")
    if call.store.get(("port", pid, port_id)) is not None:
        raise Reject(HvStatus.INVALID_PORT_ID, f"port {port_id:#x} exists")
    if kind == synic.PORT_TYPE_MESSAGE:
        base, count = 0, 0
    call.store.set(("port", pid, port_id), (kind, vp, sint, base, count))
    call.notes.update(partition=call.m.name(pid), port=port_id, sint=sint)


@hypercall_spec(HvCallCode.CONNECT_PORT, layout=L.CONNECT_PORT, privilege=Privilege.CONNECT_PORT)
def connect_port(call: Call) -> None:
    """A connection id in one partition that leads to a port (of the same type) in another."""
    pid = call.target(call.f("connection_partition_id"), allow_self=True)
    conn_id, port_pid, port_id = (
        call.f("connection_id"),
        call.f("port_partition_id"),
        call.f("port_id"),
    )
    port = call.store.get(("port", port_pid, port_id))
    if port is None or port[0] != call.f("connection_info.port_type"):
        raise Reject(HvStatus.INVALID_PORT_ID, f"port {port_id:#x}")
    if call.store.get(("conn", pid, conn_id)) is not None:
        raise Reject(HvStatus.INVALID_CONNECTION_ID, f"connection {conn_id:#x} exists")
    call.store.set(("conn", pid, conn_id), (port_pid, port_id))
    call.notes.update(partition=call.m.name(pid), connection=conn_id, port=port_id)


# -- address-space flushes (no TLB in the model: accepted and checked only) -------------------
@hypercall_spec(HvCallCode.FLUSH_VIRTUAL_ADDRESS_SPACE, layout=L.FLUSH_ADDRESS_SPACE, fast_ok=True)
def flush_virtual_address_space(call: Call) -> None:
    """Address space, flags, processor mask (Linux may issue it fast, in registers)."""


@hypercall_spec(
    HvCallCode.FLUSH_VIRTUAL_ADDRESS_LIST,
    rep=True,
    layout=L.FLUSH_ADDRESS_SPACE,
    elem=L.GVA_RANGE,
)
def flush_virtual_address_list(call: Call, i: int) -> None:
    """Address space, flags, processor mask; rep: a GVA range."""


# -- model-only: the maintenance interface of the counterfactual -----------------------------
@hypercall_spec(
    HvCallCode.WRITE_HYPERVISOR_MEMORY, layout=L.WRITE_HYPERVISOR_MEMORY, maintenance=True
)
def write_hypervisor_memory(call: Call) -> None:
    """Exists only with hypercall-only-access off: a system physical address and a value."""
    spa = call.f("system_physical_address") & ~7
    if spa >= call.m.layout.frames * PAGE_SIZE:
        raise Reject(HvStatus.INVALID_PARAMETER, f"no memory at {spa:#x}")
    memory.write_phys(call.store, spa, struct.pack("<Q", call.f("value")))
    call.notes.update(spa=spa)
    call.m.check_write(call.m.name(call.pid), (spa // PAGE_SIZE,), call.actor, {"spa": spa})
