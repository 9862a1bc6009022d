"""The handlers of the SynIC calls (messages, events, ports, connections), the address-space
flushes, and the counterfactual's maintenance interface. Each registers itself in the table."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

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
@hypercall_spec(HvCallCode.POST_MESSAGE, in_size=256, privilege=Privilege.POST_MESSAGES)
def post_message(call: Call) -> None:
    """In: connection id (u32), reserved (u32), message type (u32), payload size (u32),
    240-byte payload."""
    conn_id, msg_type, size = call.u32(0), call.u32(8), call.u32(12)
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
        call.data[16 : 16 + size],
        actor=HYPERVISOR,
        sender=call.pid,
    )
    if status is not HvStatus.SUCCESS:
        raise Reject(status, "target message slot is busy")
    call.notes.update(connection=conn_id, to=call.m.name(port_pid), type=msg_type)


def _connection(call: Call, conn_id: int, port_type: int):
    ref = call.store.get(("conn", call.pid, conn_id))
    if ref is None:
        raise Reject(HvStatus.INVALID_CONNECTION_ID, f"connection {conn_id}")
    port = call.store.get(("port", ref[0], ref[1]))
    if port is None or port[0] != port_type:
        raise Reject(HvStatus.INVALID_CONNECTION_ID, f"connection {conn_id} has no such port")
    return ref[0], port


@hypercall_spec(HvCallCode.SIGNAL_EVENT, in_size=8, privilege=Privilege.SIGNAL_EVENTS, fast_ok=True)
def signal_event(call: Call) -> None:
    """In (or fast, in RDX): connection id (u32), flag number (u16), reserved (u16)."""
    conn_id, flag = call.u32(0), call.u16(4)
    port_pid, port = _connection(call, conn_id, synic.PORT_TYPE_EVENT)
    if flag >= 64:
        raise Reject(HvStatus.INVALID_PARAMETER, f"flag {flag}")
    synic.set_flag(call.m, port_pid, port[1], port[2], port[3] + flag, actor=HYPERVISOR)
    call.notes.update(connection=conn_id, to=call.m.name(port_pid), flag=flag)


@hypercall_spec(HvCallCode.CREATE_PORT, in_size=40, privilege=Privilege.CREATE_PORT)
def create_port(call: Call) -> None:
    """In: port partition id, port id (u32), pad, connection partition id, port type (u32:
    1 message, 2 event), target SINT (u32), target VP (u32), base flag (u32)."""
    pid = call.target(call.u64(0), allow_self=True)
    port_id, kind, sint, vp, base = (
        call.u32(8),
        call.u32(24),
        call.u32(28),
        call.u32(32),
        call.u32(36),
    )
    if kind not in (synic.PORT_TYPE_MESSAGE, synic.PORT_TYPE_EVENT) or sint >= HV_SYNIC_SINT_COUNT:
        raise Reject(HvStatus.INVALID_PARAMETER, f"port type {kind} / sint {sint}")
    if call.store.get(("port", pid, port_id)) is not None:
        raise Reject(HvStatus.INVALID_PORT_ID, f"port {port_id} exists")
    call.store.set(("port", pid, port_id), (kind, vp, sint, base))
    call.notes.update(partition=call.m.name(pid), port=port_id, sint=sint)


@hypercall_spec(HvCallCode.CONNECT_PORT, in_size=32, privilege=Privilege.CONNECT_PORT)
def connect_port(call: Call) -> None:
    """In: connection partition id, connection id (u32), pad, port partition id, port id (u32)."""
    pid = call.target(call.u64(0), allow_self=True)
    conn_id, port_pid, port_id = call.u32(8), call.u64(16), call.u32(24)
    if call.store.get(("port", port_pid, port_id)) is None:
        raise Reject(HvStatus.INVALID_PORT_ID, f"port {port_id}")
    if call.store.get(("conn", pid, conn_id)) is not None:
        raise Reject(HvStatus.INVALID_CONNECTION_ID, f"connection {conn_id} exists")
    call.store.set(("conn", pid, conn_id), (port_pid, port_id))
    call.notes.update(partition=call.m.name(pid), connection=conn_id, port=port_id)


# -- address-space flushes (no TLB in the model: accepted and checked only) -------------------
@hypercall_spec(HvCallCode.FLUSH_VIRTUAL_ADDRESS_SPACE, in_size=24)
def flush_virtual_address_space(call: Call) -> None:
    """In: address space, flags, processor mask."""


@hypercall_spec(HvCallCode.FLUSH_VIRTUAL_ADDRESS_LIST, rep=True, in_size=24, in_elem=8)
def flush_virtual_address_list(call: Call, i: int) -> None:
    """In: address space, flags, processor mask; rep: a GVA range."""


# -- model-only: the maintenance interface of the counterfactual -----------------------------
@hypercall_spec(HvCallCode.WRITE_HYPERVISOR_MEMORY, in_size=24, maintenance=True)
def write_hypervisor_memory(call: Call) -> None:
    """Exists only with hypercall-only-access off. In: system physical address, value (u64)."""
    spa = call.u64(0) & ~7
    if spa >= call.m.layout.frames * PAGE_SIZE:
        raise Reject(HvStatus.INVALID_PARAMETER, f"no memory at {spa:#x}")
    memory.write_phys(call.store, spa, struct.pack("<Q", call.u64(8)))
    call.notes.update(spa=spa)
    call.m.check_write(call.m.name(call.pid), (spa // PAGE_SIZE,), call.actor, {"spa": spa})
