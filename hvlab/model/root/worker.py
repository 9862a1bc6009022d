"""The worker process (VMWP): one per child, in the root's user mode. It answers the port I/O
intercepts the hypervisor routes to the root for that VM — the hypervisor suspended the VP
and posted an HvMessageTypeX64IoPortIntercept message — by emulating an IDE controller
against the VM's own virtual disk, and completes the intercept with HvCallSetVpRegisters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hardware import devices
from hvlab.model.hypervisor import hypercall_layouts as L
from hvlab.model.hypervisor import intercept_messages as intercepts
from hvlab.model.hypervisor import partitions, synic
from hvlab.model.hypervisor.constants import REGISTER_INTERCEPT_SUSPEND, HvCallCode
from hvlab.model.hypervisor.invoke import call
from hvlab.model.hypervisor.memory import HYPERVISOR
from hvlab.model.hypervisor.partitions import ROOT_PID

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

MEDIATED = Protection.MEDIATED_IO.value


def vmwp(child: str) -> str:
    return f"root.vmwp-{child}"


def emulate_port_io(m: Machine, pid: int, port: int, data: bytes | None, size: int, detail):
    """Take the intercept message, drive the VM's emulated controller, resume the VP. Returns
    the bytes read (IN) or what the write did (OUT)."""
    principal = m.name(pid)
    node = f"{principal}.kernel"
    parent = partitions.field(m.store, pid, "parent")
    worker = vmwp(principal)
    taken = synic.consume(m, parent, 0, 0, worker)
    message = intercepts.IO_PORT_INTERCEPT.unpack(taken[1] if taken else b"")
    # what the worker acts on is what the message says (the string data of a rep insw/outsw
    # reaches it with the intercept: the model does not read it from the guest at RSI)
    port = message["port_number"]
    write = message["header.intercept_access_type"] == intercepts.ACCESS_WRITE
    region = devices.VIRTUAL_DISKS.get(principal)
    controller = devices.Ide(m.store, principal, region)
    result = controller.access(port, data, size)
    outside = isinstance(result, str) and "outside the disk" in result
    m.emit(
        EventKind.DEVICE,
        worker,
        "emulate-out" if write else "emulate-in",
        protection=MEDIATED if outside else None,
        path=(worker, "root.disk", "hw.disk"),
        detail={
            **detail,
            "device": f"emulated IDE ({principal}'s virtual disk)",
            **devices.access_detail(result, write),
        },
    )
    registers = {
        intercepts.REGISTER_RIP: message["header.rip"] + message["header.instruction_length"]
    }
    if not write and size <= 4 and isinstance(result, bytes):
        registers[intercepts.REGISTER_RAX] = int.from_bytes(result[:size], "little")
    complete_intercept(m, pid, worker, registers)
    m.emit(
        EventKind.INTERCEPT,
        worker,
        "resume",
        path=(worker, "root.vid", HYPERVISOR, node),
        detail={"port": port},
    )
    return result


def complete_intercept(m: Machine, pid: int, actor: str, registers: dict[int, int]) -> bool:
    """Complete an intercept as a parent does: HvCallSetVpRegisters with the registers the
    emulation changed, and HV_REGISTER_INTERCEPT_SUSPEND cleared, which resumes the VP."""
    elems = [
        L.REGISTER_ASSOC.pack(name=name, value=value)
        for name, value in (*registers.items(), (REGISTER_INTERCEPT_SUSPEND, 0))
    ]
    header = L.SET_VP_REGISTERS.pack(partition_id=pid, vp_index=0)
    result = call(m, ROOT_PID, HvCallCode.SET_VP_REGISTERS, header, elems, actor=actor)
    return result.ok
