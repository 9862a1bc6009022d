"""Port I/O: how a partition's IN and OUT reach — or do not reach — a device.

With `mediated-io` on, a child's port access never touches hardware. For a port its parent
installed an intercept on, the hypervisor suspends the VP and sends the parent an
HvMessageTypeX64IoPortIntercept (0x80010000) message on SINT 0, and the parent's stack answers
it (in the root: that VM's worker process, root/worker.py). Other ports read as all ones and
ignore writes. With it off the ports are passed through: the child drives the physical
controller, which reaches every sector. The root's own disk driver always drives the physical
controller.

Before any of that the hypervisor decodes a child's access: an IN or OUT moves 1, 2 or 4 bytes
(a longer access is the string form, `rep insw`/`rep outsw`). Another size stands for an
encoding no valid IN or OUT has (MS10-010's class). With `sdl-input-validation` on the
hypervisor refuses it with #UD; off, it acts on it, faults and stops (`hypervisor-stopped`, the
oracle's verdict unavailable; docs/model.md, "a malformed instruction").
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hvlab.model.core import sites, slots, topology
from hvlab.model.core.canaries import HYPERVISOR_STOPPED
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hardware import devices
from hvlab.model.hypervisor import intercept_messages as intercepts
from hvlab.model.hypervisor import partitions, synic
from hvlab.model.hypervisor.constants import HvMessageType, HvStatus, InterceptType
from hvlab.model.hypervisor.memory import HYPERVISOR
from hvlab.model.hypervisor.partitions import ROOT_PID

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

MEDIATED = Protection.MEDIATED_IO.value
SDL = Protection.SDL_INPUT_VALIDATION.value


def well_formed(size: int) -> bool:
    """An access size some IN or OUT encodes: 1, 2 or 4 bytes, or more (the string form)."""
    return size in (1, 2, 4) or size > 4


def port_io(m: Machine, pid: int, port: int, data: bytes | None, size: int, actor: str):
    """OUT (`data` given) or IN (`size` bytes) on `port`. Returns the bytes read, or b""."""
    principal = m.name(pid)
    node = f"{principal}.kernel"
    write = data is not None
    detail = {
        "port": port,
        "direction": "out" if write else "in",
        "size": len(data) if write else size,
    }
    malformed = not well_formed(detail["size"])
    refusal = None
    if pid != ROOT_PID and m.on(SDL):  # the decoder validates what it decoded (or the learner's)
        refusal = slots.ask(
            m, slots.INSTRUCTION,
            lambda: f"no IN or OUT encodes a {detail['size']}-byte access" if malformed else None,
            size=detail["size"],
        )  # fmt: skip
    if pid != ROOT_PID and (refusal or malformed):
        why = refusal or f"no IN or OUT encodes a {detail['size']}-byte access"
        if refusal:  # refused: the instruction raises #UD
            m.emit(
                EventKind.FAULT,
                actor,
                "#UD",
                protection=SDL,
                path=(node, HYPERVISOR),
                detail={**detail, "why": why},
            )
        else:  # the intercept path acts on the size it decoded, and the hypervisor faults
            m.emit(
                EventKind.INTERCEPT,
                HYPERVISOR,
                HYPERVISOR_STOPPED,
                path=(node, HYPERVISOR),
                detail={**detail, "why": f"{why}: the hypervisor used it unchecked and faulted"},
            )
        return b""
    route = topology.route(m.design, "port-io", node, "hw.disk") if pid != ROOT_PID else ()
    refusal = sites.refused_by(
        m, sites.PORT_IO, partition=principal, port=port, direction=detail["direction"],
        size=detail["size"],
    )  # fmt: skip
    if refusal is not None:  # a plugin defense refused it: nothing reaches a device
        m.emit(
            EventKind.DEVICE,
            HYPERVISOR,
            "port-refused",
            status=HvStatus.ACCESS_DENIED,
            protection=refusal[0],
            path=(node, HYPERVISOR),
            detail={**detail, "why": refusal[1]},
        )
        return b"" if write else b"\xff" * size
    if pid == ROOT_PID or not m.on(MEDIATED):
        controller = devices.Ide(m.store, "hw", None)
        result = controller.access(port, data, size)
        path = ("root.disk", "hw.disk") if pid == ROOT_PID else route
        m.emit(
            EventKind.DEVICE,
            actor,
            "port-out" if write else "port-in",
            path=path,
            detail={
                **detail,
                "device": "physical IDE controller",
                **devices.access_detail(result, write),
            },
        )
        request = controller.take_dma_request()
        if request is not None:
            # the controller serves whoever drives it: the root, or a child it is passed to
            bus_master_dma(m, pid, m.principal(pid, actor), request)
        return _deliver(m, principal, actor, result, write, detail)
    if m.store.get(("intercept", pid, InterceptType.X64_IO_PORT, port)) is None:
        m.emit(
            EventKind.DEVICE,
            HYPERVISOR,
            "port-unclaimed",
            path=(node, HYPERVISOR),
            detail={**detail, "why": "no device behind this port for the guest"},
        )
        return b"" if write else b"\xff" * size
    parent = partitions.field(m.store, pid, "parent")
    intercepts.suspend(m.store, pid)
    msg = HvMessageType.X64_IO_PORT_INTERCEPT
    rip = m.store.get(("vpreg", pid, 0, intercepts.REGISTER_RIP), 0)
    body = intercepts.io_port_message(port, write, detail["size"], data, rip)
    m.emit(
        EventKind.INTERCEPT,
        HYPERVISOR,
        msg.label,
        status=msg,
        path=(node, HYPERVISOR, "root.vid", f"root.vmwp-{principal}"),
        detail={**detail, "layout": intercepts.IO_PORT_INTERCEPT.name, "bytes": body.hex()},
    )
    synic.post(m, parent, 0, 0, msg, body, actor=HYPERVISOR, sender=0)
    result = m.vid.handle_io_port_intercept(pid, port, data, size, detail)
    return _deliver(m, principal, actor, result, write, detail)


def _deliver(m: Machine, principal: str, actor: str, result, write: bool, detail: dict):
    if write:
        return b""
    m.check_read(principal, result, actor, {"port": detail["port"]})
    return result


def bus_master_dma(m: Machine, pid: int, principal: str, request) -> None:
    """The physical controller's bus master moves the sectors itself: it reads the PRD table,
    then each entry's bytes, at bus addresses, through the IOMMU of the partition it serves."""
    first, count, to_memory, prd = request
    path = ("hw.disk", "hw.ram")
    table = m.dma(prd, principal, "hw.disk", path, size=8 * devices.PRD_ENTRY, domain=pid)
    if table is None:
        return
    data = b"".join(devices.read_sector(m.store, first + i) for i in range(count))
    moved, offset = b"", 0
    for i in range(8):
        address, length, flags = struct.unpack_from("<IHH", table, i * devices.PRD_ENTRY)
        length = length or 0x10000
        if to_memory:
            chunk = data[offset : offset + length]
            if chunk and m.dma(address, principal, "hw.disk", path, data=chunk, domain=pid) is None:
                return
        else:
            got = m.dma(address, principal, "hw.disk", path, size=length, domain=pid)
            if got is None:
                return
            moved += got
        offset += length
        if flags & devices.PRD_LAST or offset >= len(data):
            break
    if not to_memory:
        for i in range(count):
            devices.write_sector(
                m.store, first + i, moved[i * devices.SECTOR : (i + 1) * devices.SECTOR]
            )
