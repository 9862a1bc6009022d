"""The root's kernel at boot: it builds each child with the real hypercall sequence — create,
initialize, deposit pool pages, create the VP, map guest RAM through the VID, install the port
intercepts of the emulated IDE controller, create and connect the SynIC ports VMBus needs, and
start the VP."""

from __future__ import annotations

from hvlab.model.core.engine import Actor, Call, Do
from hvlab.model.core.layout import CHILDREN
from hvlab.model.hardware import devices
from hvlab.model.hypervisor import partitions
from hvlab.model.hypervisor.constants import HvCallCode, InterceptType
from hvlab.model.hypervisor.invoke import pack
from hvlab.model.hypervisor.synic import PORT_TYPE_EVENT, PORT_TYPE_MESSAGE
from hvlab.model.vmbus import channels as vmbus

VMBUS_CONNECTION, EVENT_CONNECTION = vmbus.VMBUS_CONNECTION, vmbus.EVENT_CONNECTION


# -- boot -----------------------------------------------------------------------------------
def root_boot(actor: Actor):
    """The root builds each child with the real hypercall sequence."""
    m = actor.machine
    for spec in CHILDREN:
        result = yield Call(
            HvCallCode.CREATE_PARTITION, pack(0) + spec.name.encode().ljust(8, b"\0")
        )
        if not result.ok:
            return
        pid = int.from_bytes(result.output, "little")
        yield Call(HvCallCode.INITIALIZE_PARTITION, pack(pid))
        pool = m.vid.free_frames(spec.pool_pages)
        yield Call(HvCallCode.DEPOSIT_MEMORY, pack(pid), tuple(pack(f) for f in pool))
        yield Call(HvCallCode.CREATE_VP, pack(pid, 0))
        ram = m.vid.free_frames(spec.ram_pages)
        yield Do(lambda mm, pid=pid, ram=ram: mm.vid.map_frames(pid, 0, ram), "map guest RAM")
        for port in (*devices.IDE_PORTS, *devices.IDE_CONTROL_PORTS):
            # Reads and writes (access mask 3) of the emulated IDE controller go to the VMWP.
            yield Call(
                HvCallCode.INSTALL_INTERCEPT,
                pack(pid, 3 | InterceptType.X64_IO_PORT << 32, port),
            )
        root = partitions.ROOT_PID
        for conn, kind in (
            (VMBUS_CONNECTION, PORT_TYPE_MESSAGE),
            (EVENT_CONNECTION, PORT_TYPE_EVENT),
        ):
            # Guest → root: a port in the root, a connection in the guest.
            port = pid * 16 + conn
            yield Call(HvCallCode.CREATE_PORT, pack(root, port, pid, kind | 2 << 32, 0))
            yield Call(HvCallCode.CONNECT_PORT, pack(pid, conn, root, port))
            # Root → guest: a port in the guest, a connection in the root.
            kind_name = "message" if kind == PORT_TYPE_MESSAGE else "event"
            yield Call(HvCallCode.CREATE_PORT, pack(pid, conn, root, kind | 2 << 32, 0))
            yield Call(
                HvCallCode.CONNECT_PORT,
                pack(root, vmbus.root_to_child_connection(pid, kind_name), pid, conn),
            )
        yield Call(HvCallCode.START_VIRTUAL_PROCESSOR, pack(pid, 0))
