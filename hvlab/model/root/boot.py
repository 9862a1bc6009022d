"""The root's kernel at boot: it enables its own SynIC, then builds each child with the real
hypercall sequence — create the partition (its structures take a page of the root's own pool),
deposit the child's pool, initialize it, create its VP, map guest RAM through the VID, install
the port intercepts of the emulated IDE controller, create and connect the SynIC ports VMBus
needs, and start the VP by clearing its explicit-suspend register.

A call that answers HV_STATUS_INSUFFICIENT_MEMORY is retried after depositing more pages, as
Linux's mshv root does (`hv_call_deposit_pages`, then the call again)."""

from __future__ import annotations

from hvlab.model.core.engine import Actor, Call, Do
from hvlab.model.core.layout import CHILDREN
from hvlab.model.hardware import devices
from hvlab.model.hypervisor import hypercall_layouts as L
from hvlab.model.hypervisor.constants import (
    INTERCEPT_SINT,
    HvCallCode,
    HvStatus,
    InterceptType,
)
from hvlab.model.hypervisor.partition_calls import EXPLICIT_SUSPEND
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.hypervisor.synic import (
    EVENT_FLAGS,
    PORT_TYPE_EVENT,
    PORT_TYPE_MESSAGE,
    enable_synic,
)
from hvlab.model.vmbus import channels as vmbus

DEPOSIT_CHUNK = 2  # pages the root adds to a pool each time a call runs short
IO_READ_WRITE = 3  # an intercept's access mask: reads and writes


def deposit(actor: Actor, pid: int, count: int):
    """Give `count` of the root's unused frames to a partition's pool (the root's own pool when
    `pid` is the root)."""
    frames = actor.machine.vid.free_frames(count, own_pool=pid == ROOT_PID)
    elems = tuple(L.GPA_PAGE.pack(gpa_page_number=f) for f in frames)
    return (yield Call(HvCallCode.DEPOSIT_MEMORY, L.DEPOSIT_MEMORY.pack(partition_id=pid), elems))


def with_pool(actor: Actor, pool_of: int, make_call, attempts: int = 4):
    """Make a call; while it answers INSUFFICIENT_MEMORY, deposit into `pool_of` and retry.
    `make_call` is a generator function yielding the call's operations."""
    for _ in range(attempts):
        result = yield from make_call()
        if result is None or result.status is not HvStatus.INSUFFICIENT_MEMORY:
            return result
        yield from deposit(actor, pool_of, DEPOSIT_CHUNK)
    return result


def single(code: HvCallCode, header: bytes, elems: tuple[bytes, ...] = ()):
    def make():
        return (yield Call(code, header, elems))

    return make


def root_boot(actor: Actor):
    """The root enables its SynIC and builds each child."""
    m = actor.machine
    layout = m.layout
    yield from enable_synic(
        (layout.root_simp_page, layout.root_siefp_page), (INTERCEPT_SINT, vmbus.SINT)
    )
    for spec in CHILDREN:
        create = single(HvCallCode.CREATE_PARTITION, L.CREATE_PARTITION.pack())
        result = yield from with_pool(actor, ROOT_PID, create)
        if not result.ok:
            return
        pid = int.from_bytes(result.output[:8], "little")
        yield Do(lambda mm, p=pid, n=spec.name: mm.vid.name_partition(p, n), "name VM")
        yield from deposit(actor, pid, spec.pool_pages)
        target = L.PARTITION_ID.pack(partition_id=pid)
        yield from with_pool(actor, pid, single(HvCallCode.INITIALIZE_PARTITION, target))
        vp = L.CREATE_VP.pack(partition_id=pid, vp_index=0)
        yield from with_pool(actor, pid, single(HvCallCode.CREATE_VP, vp))
        ram = m.vid.free_frames(spec.ram_pages)

        def map_ram(p=pid, ram=ram):
            return (yield Do(lambda mm: mm.vid.map_frames(p, 0, ram), "map guest RAM"))

        yield from with_pool(actor, pid, map_ram)
        yield Do(lambda mm, p=pid: mm.vid.load_image(p), "load the guest's image")
        for port in (*devices.IDE_PORTS, *devices.IDE_CONTROL_PORTS):
            yield Call(
                HvCallCode.INSTALL_INTERCEPT,
                L.INSTALL_INTERCEPT.pack(
                    partition_id=pid,
                    access_type=IO_READ_WRITE,
                    intercept_type=InterceptType.X64_IO_PORT,
                    intercept_parameter=port,
                ),
            )
        yield from vmbus_ports(pid)
        start = L.REGISTER_ASSOC.pack(name=EXPLICIT_SUSPEND, value=0)
        regs = L.SET_VP_REGISTERS.pack(partition_id=pid, vp_index=0)
        yield Call(HvCallCode.SET_VP_REGISTERS, regs, (start,))


def vmbus_ports(pid: int):
    """The SynIC plumbing of VMBus for one child: the root's message port that the child's
    connections 4 (contact) and 1 (everything after) lead to, and the child's message and
    event ports the root's connections lead to. (Each channel's own event port is created
    when the root offers the channel.)"""
    yield from port(ROOT_PID, vmbus.root_message_port(pid), pid, PORT_TYPE_MESSAGE)
    for conn in (vmbus.CONTACT_CONNECTION, vmbus.VMBUS_CONNECTION):
        yield from connect(pid, conn, ROOT_PID, vmbus.root_message_port(pid), PORT_TYPE_MESSAGE)
    for kind, port_id in (
        (PORT_TYPE_MESSAGE, vmbus.GUEST_MESSAGE_PORT),
        (PORT_TYPE_EVENT, vmbus.GUEST_EVENT_PORT),
    ):
        count = EVENT_FLAGS if kind == PORT_TYPE_EVENT else 0
        yield from port(pid, port_id, ROOT_PID, kind, count=count)
        name = "message" if kind == PORT_TYPE_MESSAGE else "event"
        yield from connect(ROOT_PID, vmbus.root_to_child_connection(pid, name), pid, port_id, kind)


def port_input(owner: int, port_id: int, peer: int, kind: int, base: int = 0, count: int = 0):
    return L.CREATE_PORT.pack(
        port_partition_id=owner,
        port_id=port_id,
        connection_partition_id=peer,
        **{
            "port_info.port_type": kind,
            "port_info.message_port_info.target_sint": vmbus.SINT,
            "port_info.message_port_info.target_vp": 0,
            "port_info.event_port_info.base_flag_number": base,
            "port_info.event_port_info.flag_count": count,
        },
    )


def connect_input(pid: int, conn: int, port_pid: int, port_id: int, kind: int) -> bytes:
    return L.CONNECT_PORT.pack(
        connection_partition_id=pid,
        connection_id=conn,
        port_partition_id=port_pid,
        port_id=port_id,
        **{"connection_info.port_type": kind},
    )


def port(owner: int, port_id: int, peer: int, kind: int, base: int = 0, count: int = 0):
    yield Call(HvCallCode.CREATE_PORT, port_input(owner, port_id, peer, kind, base, count))


def connect(pid: int, conn: int, port_pid: int, port_id: int, kind: int):
    yield Call(HvCallCode.CONNECT_PORT, connect_input(pid, conn, port_pid, port_id, kind))
