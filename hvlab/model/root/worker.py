"""The worker process (VMWP): one per child, in the root's user mode. It answers the port I/O
intercepts the hypervisor routes to the root for that VM — the hypervisor suspended the VP
and posted an HvMessageTypeX64IoPortIntercept message — by emulating an IDE controller
against the VM's own virtual disk, and resumes the VP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hardware import devices
from hvlab.model.hypervisor import partitions, synic
from hvlab.model.hypervisor.memory import HYPERVISOR
from hvlab.model.hypervisor.partitions import VpState

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
    write = data is not None
    parent = partitions.field(m.store, pid, "parent")
    worker = vmwp(principal)
    synic.consume(m, parent, 0, 0, worker)
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
    m.store.set(("vp", pid, 0), VpState.RUNNING.value)
    m.emit(
        EventKind.INTERCEPT,
        worker,
        "resume",
        path=(worker, "root.vid", HYPERVISOR, node),
        detail={"port": port},
    )
    return result
