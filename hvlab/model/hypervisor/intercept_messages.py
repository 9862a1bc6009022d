"""The messages the hypervisor posts to a child's parent on SINT 0 when one of the child's
accesses is intercepted, laid out as in the mshv headers (`hvhdk.h`): the common intercept
header (VP index, instruction length, access type, RIP) and, for a port access,
hv_x64_io_port_intercept_message, for a memory access, hv_x64_memory_intercept_message.

The parent completes an intercept with HvCallSetVpRegisters — RIP past the instruction, RAX
for an IN, and HV_REGISTER_INTERCEPT_SUSPEND cleared — which lets the VP run again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.wire import Struct, le, raw
from hvlab.model.hypervisor.constants import REGISTER_INTERCEPT_SUSPEND
from hvlab.model.hypervisor.partitions import VpState

if TYPE_CHECKING:
    from hvlab.model.core.store import Store

HVHDK = "include/hyperv/hvhdk.h"
ACCESS_READ, ACCESS_WRITE = 0, 1  # intercept_access_type
REGISTER_RAX, REGISTER_RIP = 0x00020000, 0x00020010  # hv_register_name (x64)
IN_OUT_LENGTH = 1  # IN AL,DX / OUT DX,AL: one byte (0xEC / 0xEE)
STRING_OP, REP_PREFIX = 1 << 3, 1 << 4  # access_info bits above access_size (bits 0-2)

_HEADER = (
    le("header.vp_index", 0, 4),
    le("header.instruction_length", 4, 1),
    le("header.intercept_access_type", 5, 1),
    le("header.execution_state", 6, 2),
    le("header.rip", 24, 8),
    le("header.rflags", 32, 8),
)
IO_PORT_INTERCEPT = Struct(
    "hv_x64_io_port_intercept_message",
    128,
    *_HEADER,
    le("port_number", 40, 2),
    le("access_info", 42, 1),
    le("instruction_byte_count", 43, 1),
    le("rax", 48, 8),
    raw("instruction_bytes", 56, 16),
    le("rcx", 104, 8),
    le("rsi", 112, 8),
    le("rdi", 120, 8),
    source=HVHDK,
)
MEMORY_INTERCEPT = Struct(
    "hv_x64_memory_intercept_message",
    80,
    *_HEADER,
    le("cache_type", 40, 4),
    le("instruction_byte_count", 44, 1),
    le("memory_access_info", 45, 1),
    le("guest_virtual_address", 48, 8),
    le("guest_physical_address", 56, 8),
    source=HVHDK,
)


def io_port_message(port: int, write: bool, size: int, data: bytes | None, rip: int) -> bytes:
    """The message for one IN or OUT. A one-, two- or four-byte access carries its value in RAX;
    a longer one is a `rep insw`/`rep outsw` string operation of size/2 words (RCX)."""
    string = size > 4
    value = int.from_bytes(data[:8], "little") if write and data and not string else 0
    return IO_PORT_INTERCEPT.pack(
        **{
            "header.instruction_length": 2 if string else IN_OUT_LENGTH,
            "header.intercept_access_type": ACCESS_WRITE if write else ACCESS_READ,
            "header.rip": rip,
        },
        port_number=port,
        access_info=(2 | STRING_OP | REP_PREFIX) if string else size,
        rax=value,
        rcx=size // 2 if string else 0,
    )


def memory_message(gpa: int, write: bool, rip: int) -> bytes:
    return MEMORY_INTERCEPT.pack(
        **{
            "header.intercept_access_type": ACCESS_WRITE if write else ACCESS_READ,
            "header.rip": rip,
        },
        guest_physical_address=gpa,
        memory_access_info=0,
    )


def suspend(store: Store, pid: int) -> None:
    """The hypervisor holds the VP at an intercept until its parent completes it."""
    store.set(("vpreg", pid, 0, REGISTER_INTERCEPT_SUSPEND), 1)
    store.set(("vp", pid, 0), VpState.SUSPENDED.value)
