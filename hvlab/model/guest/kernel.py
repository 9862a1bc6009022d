"""A guest kernel's own programs: its first steps at boot (the synthetic MSRs that enable the
hypercall page, its secret stored in its own memory, a first hypercall, its SynIC, VMBus), and
its IDE driver's port I/O."""

from __future__ import annotations

from hvlab.model.core.engine import Actor, Call, PlantPage, PortIo, WriteMsr
from hvlab.model.core.engine import PlantSecret as Plant
from hvlab.model.core.layout import (
    GUEST_HYPERCALL_PAGE,
    GUEST_SIEFP_PAGE,
    GUEST_SIMP_PAGE,
    ChildSpec,
)
from hvlab.model.guest import netvsc, storvsc, vmbus_client
from hvlab.model.hypervisor.constants import MSR_GUEST_OS_ID, MSR_HYPERCALL, HvCallCode
from hvlab.model.hypervisor.synic import enable_synic
from hvlab.model.vmbus.channels import SINT

LINUX_GUEST_OS_ID = 0x8100_0000_0000_0000  # bit 63 set: open-source OS; vendor/version bits 0

# The page of a library's code that tells its builds apart, as its one qword: the build id of
# libhvtls 1.4.0 to 1.4.3. A guest that loaded one of them holds a page a guesser can build.
LIBRARY_BUILDS = tuple((0x01_04_00 + n).to_bytes(8, "little") for n in range(4))  # 0x10400 + n


def library_name(child: str) -> str:
    return f"{child}-library"


def secret_name(child: str) -> str:
    return f"{child}-secret"


def child_boot(spec: ChildSpec):
    """A guest kernel's first steps: enable the hypercall page, store its secret, say hello."""

    def program(actor: Actor):
        yield WriteMsr(MSR_GUEST_OS_ID, LINUX_GUEST_OS_ID)
        yield WriteMsr(MSR_HYPERCALL, GUEST_HYPERCALL_PAGE << 12 | 1)
        yield Plant(secret_name(spec.name), spec.secret_gpa)
        if spec.library_gpa is not None:
            yield PlantPage(library_name(spec.name), spec.library_gpa, LIBRARY_BUILDS)
        yield Call(HvCallCode.GET_PARTITION_ID)
        yield from enable_synic((GUEST_SIMP_PAGE, GUEST_SIEFP_PAGE), (SINT,))
        yield from vmbus_client.connect(actor)
        yield from storvsc.probe(actor)
        yield from netvsc.probe(actor)

    return program


def ide_command(command: int, lba: int, count: int = 1):
    """Program the task-file registers, then the command (ATA PIO, LBA28)."""
    yield PortIo(0x1F2, bytes([count]))
    yield PortIo(0x1F3, bytes([lba & 0xFF]))
    yield PortIo(0x1F4, bytes([lba >> 8 & 0xFF]))
    yield PortIo(0x1F5, bytes([lba >> 16 & 0xFF]))
    yield PortIo(0x1F6, bytes([0xE0 | lba >> 24 & 0x0F]))
    yield PortIo(0x1F7, bytes([command]))
