"""Architectural constants of the Hyper-V hypervisor interface, with their real values.

Sources: the Hyper-V Top-Level Functional Specification (TLFS) and the Linux kernel's
`include/hyperv/hvgdk_mini.h`. Values the model invents are marked "model-only".
"""

from __future__ import annotations

import functools
from enum import IntEnum

# One definition, in the core's layout; named here too, beside the TLFS's other sizes.
from hvlab.model.core.layout import PAGE_SIZE as PAGE_SIZE

PAGE_SHIFT = 12
HV_PARTITION_ID_SELF = 0xFFFF_FFFF_FFFF_FFFF
HV_PARTITION_ID_INVALID = 0
HV_MESSAGE_SIZE = 256
HV_MESSAGE_PAYLOAD_SIZE = 240
HV_SYNIC_SINT_COUNT = 16
VMBUS_MESSAGE_SINT = 2
INTERCEPT_SINT = 0

MSR_GUEST_OS_ID = 0x4000_0000
MSR_HYPERCALL = 0x4000_0001
# The SynIC's MSRs (hvgdk_mini.h): control, version, event-flags page, message page, end of
# message, and SINT0..SINT15 from 0x40000090. A SINT is masked while bit 16 is set.
MSR_SCONTROL = 0x4000_0080
MSR_SVERSION = 0x4000_0081
MSR_SIEFP = 0x4000_0082
MSR_SIMP = 0x4000_0083
MSR_EOM = 0x4000_0084
MSR_SINT0 = 0x4000_0090
SINT_MASKED = 1 << 16
SINT_AUTO_EOI = 1 << 17
HV_EVENT_FLAGS_COUNT = 256 * 8  # event flags per SINT (hvhdk.h)
# Register names a parent writes to start, suspend and resume a child's VP (hvgdk_mini.h)
REGISTER_EXPLICIT_SUSPEND = 0x00000000
REGISTER_INTERCEPT_SUSPEND = 0x00000001


class HvStatus(IntEnum):
    """`HV_STATUS_*` result codes (bits 15:0 of the hypercall result value)."""

    SUCCESS = 0x0
    INVALID_HYPERCALL_CODE = 0x2
    INVALID_HYPERCALL_INPUT = 0x3
    INVALID_ALIGNMENT = 0x4
    INVALID_PARAMETER = 0x5
    ACCESS_DENIED = 0x6
    INVALID_PARTITION_STATE = 0x7
    OPERATION_DENIED = 0x8
    INSUFFICIENT_MEMORY = 0xB
    INVALID_PARTITION_ID = 0xD
    INVALID_VP_INDEX = 0xE
    INVALID_PORT_ID = 0x11
    INVALID_CONNECTION_ID = 0x12
    INSUFFICIENT_BUFFERS = 0x13
    INVALID_VP_STATE = 0x15

    @property
    def label(self) -> str:
        return f"HV_STATUS_{self.name}"


class HvCallCode(IntEnum):
    """Hypercall call codes (bits 15:0 of the hypercall input value)."""

    FLUSH_VIRTUAL_ADDRESS_SPACE = 0x0002
    FLUSH_VIRTUAL_ADDRESS_LIST = 0x0003
    CREATE_PARTITION = 0x0040
    INITIALIZE_PARTITION = 0x0041
    FINALIZE_PARTITION = 0x0042
    DELETE_PARTITION = 0x0043
    GET_PARTITION_PROPERTY = 0x0044
    SET_PARTITION_PROPERTY = 0x0045
    GET_PARTITION_ID = 0x0046
    DEPOSIT_MEMORY = 0x0048
    WITHDRAW_MEMORY = 0x0049
    MAP_GPA_PAGES = 0x004B
    UNMAP_GPA_PAGES = 0x004C
    INSTALL_INTERCEPT = 0x004D
    CREATE_VP = 0x004E
    DELETE_VP = 0x004F
    GET_VP_REGISTERS = 0x0050
    SET_VP_REGISTERS = 0x0051
    POST_MESSAGE = 0x005C
    SIGNAL_EVENT = 0x005D
    ASSERT_VIRTUAL_INTERRUPT = 0x0094
    CREATE_PORT = 0x0095
    CONNECT_PORT = 0x0096
    START_VIRTUAL_PROCESSOR = 0x0099
    # model-only: the "maintenance" interface that exists only with hypercall-only-access off.
    WRITE_HYPERVISOR_MEMORY = 0x00FE

    @property
    def label(self) -> str:
        return _call_label(self.name)


@functools.cache
def _call_label(name: str) -> str:
    return "HvCall" + "".join(part.title() for part in name.split("_"))


class Privilege(IntEnum):
    """Absolute bit numbers of the 64-bit partition privilege mask (CPUID 0x40000003)."""

    ACCESS_VP_RUNTIME_MSR = 0
    ACCESS_PARTITION_REFERENCE_COUNTER = 1
    ACCESS_SYNIC_REGS = 2
    ACCESS_SYNTHETIC_TIMER_REGS = 3
    ACCESS_INTR_CTRL_REGS = 4
    ACCESS_HYPERCALL_MSRS = 5
    ACCESS_VP_INDEX = 6
    CREATE_PARTITIONS = 32
    ACCESS_PARTITION_ID = 33
    ACCESS_MEMORY_POOL = 34
    POST_MESSAGES = 36
    SIGNAL_EVENTS = 37
    CREATE_PORT = 38
    CONNECT_PORT = 39
    ACCESS_STATS = 40
    DEBUGGING = 43
    CPU_MANAGEMENT = 44


def privilege_mask(*bits: Privilege) -> int:
    mask = 0
    for bit in bits:
        mask |= 1 << bit
    return mask


ROOT_PRIVILEGES = privilege_mask(*Privilege)
# A normal child gets the synthetic-MSR bits and what VMBus needs, nothing that manages partitions.
CHILD_PRIVILEGES = privilege_mask(
    Privilege.ACCESS_VP_RUNTIME_MSR,
    Privilege.ACCESS_PARTITION_REFERENCE_COUNTER,
    Privilege.ACCESS_SYNIC_REGS,
    Privilege.ACCESS_SYNTHETIC_TIMER_REGS,
    Privilege.ACCESS_INTR_CTRL_REGS,
    Privilege.ACCESS_HYPERCALL_MSRS,
    Privilege.ACCESS_VP_INDEX,
    Privilege.ACCESS_PARTITION_ID,
    Privilege.POST_MESSAGES,
    Privilege.SIGNAL_EVENTS,
)


class HvMessageType(IntEnum):
    """SynIC message types. The top bit marks types reserved for the hypervisor."""

    NONE = 0x0000_0000
    UNMAPPED_GPA = 0x8000_0000
    GPA_INTERCEPT = 0x8000_0001
    X64_IO_PORT_INTERCEPT = 0x8001_0000

    @property
    def label(self) -> str:
        return "HvMessageType" + "".join(p.title() for p in self.name.split("_"))


class InterceptType(IntEnum):
    """`HV_INTERCEPT_TYPE` values for HvCallInstallIntercept."""

    X64_IO_PORT = 0x0
    X64_MSR = 0x1
    X64_CPUID = 0x2
    X64_EXCEPTION = 0x3


class MapFlags(IntEnum):
    """`HV_MAP_GPA_*` flags of HvCallMapGpaPages."""

    READABLE = 0x1
    WRITABLE = 0x2
    KERNEL_EXECUTABLE = 0x4
    USER_EXECUTABLE = 0x8


def rights_from_flags(flags: int) -> str:
    """Second-level rights as a three-letter string, e.g. `rw-`."""
    return (
        ("r" if flags & MapFlags.READABLE else "-")
        + ("w" if flags & MapFlags.WRITABLE else "-")
        + ("x" if flags & (MapFlags.KERNEL_EXECUTABLE | MapFlags.USER_EXECUTABLE) else "-")
    )
