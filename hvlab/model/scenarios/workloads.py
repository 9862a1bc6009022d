"""Workloads: the programs each actor runs. `boot` builds the machine; the others start from it.

A workload is a function from run parameters to a list of actors. Register new ones in
`WORKLOADS` (plugins will, later, through a hook).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hvlab.model.core.engine import (
    Actor,
    Call,
    Do,
    PortIo,
    Read,
    WaitUntil,
    Write,
    WriteMsr,
)
from hvlab.model.core.engine import PlantSecret as Plant
from hvlab.model.core.layout import CHILDREN, GUEST_HYPERCALL_PAGE, ChildSpec
from hvlab.model.hardware import devices
from hvlab.model.hypervisor import partitions
from hvlab.model.hypervisor.constants import (
    MSR_GUEST_OS_ID,
    MSR_HYPERCALL,
    PAGE_SIZE,
    HvCallCode,
    InterceptType,
)
from hvlab.model.hypervisor.invoke import pack
from hvlab.model.hypervisor.machine import DISK_SECRET_LBA, Machine
from hvlab.model.hypervisor.memory import ROOT
from hvlab.model.hypervisor.synic import PORT_TYPE_EVENT, PORT_TYPE_MESSAGE
from hvlab.model.root import network, storage
from hvlab.model.scenarios import probes
from hvlab.model.vmbus import channels as vmbus

VMBUS_CONNECTION, EVENT_CONNECTION = vmbus.VMBUS_CONNECTION, vmbus.EVENT_CONNECTION
LINUX_GUEST_OS_ID = 0x8100_0000_0000_0000  # bit 63 set: open-source OS; vendor/version bits 0


def secret_name(child: str) -> str:
    return f"{child}-secret"


def planted(*names: str) -> Callable[[Machine], bool]:
    def cond(m: Machine) -> bool:
        have = m.store.get(("canaries",), ())
        return all(n in have for n in names)

    return cond


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


def child_boot(spec: ChildSpec):
    """A guest kernel's first steps: enable the hypercall page, store its secret, say hello."""

    def program(actor: Actor):
        yield WriteMsr(MSR_GUEST_OS_ID, LINUX_GUEST_OS_ID)
        yield WriteMsr(MSR_HYPERCALL, GUEST_HYPERCALL_PAGE << 12 | 1)
        yield Plant(secret_name(spec.name), spec.secret_gpa)
        yield Call(HvCallCode.GET_PARTITION_ID)
        yield from vmbus.connect(actor)

    return program


def services(machine: Machine) -> list[Actor]:
    """The root's long-running components: the VMBus server, the storage VSP, the switch."""
    return [
        Actor(vmbus.SERVER, ROOT, vmbus.server, machine, daemon=True),
        Actor(storage.VSP, ROOT, storage.storvsp, machine, daemon=True),
        Actor(network.switch_node(machine), ROOT, network.vswitch, machine, daemon=True),
    ]


def boot(machine: Machine, **_params) -> list[Actor]:
    actors = [Actor(ROOT, ROOT, root_boot, machine), *services(machine)]
    actors += [Actor(c.name, c.name, child_boot(c), machine) for c in CHILDREN]
    return actors


# -- memory-probe -----------------------------------------------------------------------------
def root_probes(actor: Actor):
    yield from root_boot(actor)
    yield WaitUntil(children_booted, "children booted")
    for name in ("hv-read", "hv-patch"):
        yield from probes.run(name, actor)


def child_a_probes(spec: ChildSpec):
    boot_program = child_boot(spec)

    def program(actor: Actor):
        yield from boot_program(actor)
        yield WaitUntil(children_booted, "B's secret stored")
        for name in ("guest-snoop", "privileged-hypercall", "malformed-rep"):
            yield from probes.run(name, actor)

    return program


def children_booted(m: Machine) -> bool:
    """Both guests have booted: secrets stored and both synthetic devices open."""
    if not planted(*(secret_name(c.name) for c in CHILDREN))(m):
        return False
    for c in CHILDREN:
        pid = partitions.pid_of(m.store, c.name)
        if any(m.store.get(("vsc", pid, d)) is None for d in vmbus.Device):
            return False
    return True


def memory_probe(machine: Machine, **_params) -> list[Actor]:
    return [
        Actor(ROOT, ROOT, root_probes, machine),
        *services(machine),
        Actor("A", "A", child_a_probes(CHILDREN[0]), machine),
        Actor("B", "B", child_boot(CHILDREN[1]), machine),
    ]


# -- busy: a long, steady trace for time-travel benchmarks --------------------------------------
def busy(machine: Machine, iterations: int = 1000, **_params) -> list[Actor]:
    """Boot, then each child loops: write a page, read it back, signal the root."""

    def loop(spec: ChildSpec):
        def program(actor: Actor):
            yield from child_boot(spec)(actor)
            for i in range(iterations):
                gpa = (24 + i % 8) * PAGE_SIZE
                yield Write(gpa, i.to_bytes(8, "little"))
                yield Read(gpa, 8)
                yield Call(HvCallCode.SIGNAL_EVENT, pack(EVENT_CONNECTION))

        return program

    return [Actor(ROOT, ROOT, root_boot, machine), *services(machine)] + [
        Actor(c.name, c.name, loop(c), machine) for c in CHILDREN
    ]


# -- the I/O path ---------------------------------------------------------------------------------
def with_children(machine: Machine, a_program, b_program) -> list[Actor]:
    return [
        Actor(ROOT, ROOT, root_boot, machine),
        *services(machine),
        Actor("A", "A", a_program, machine),
        Actor("B", "B", b_program, machine),
    ]


def after_boot(spec: ChildSpec, then):
    def program(actor: Actor):
        yield from child_boot(spec)(actor)
        yield from then(actor)

    return program


def idle(_actor: Actor):
    return
    yield


def disk_read(machine: Machine, **_params) -> list[Actor]:
    """A reads block 3 of its virtual disk; B reads its own secret block 5."""

    def a(actor):
        yield from storage.disk_io(actor, storage.CDB_READ, lba=3)

    def b(actor):
        yield from storage.disk_io(actor, storage.CDB_READ, lba=DISK_SECRET_LBA)

    return with_children(machine, after_boot(CHILDREN[0], a), after_boot(CHILDREN[1], b))


def disk_write(machine: Machine, **_params) -> list[Actor]:
    """A writes a block to its virtual disk, then reads it back."""

    def a(actor):
        data = b"written by A".ljust(512, b"!")
        yield from storage.disk_io(actor, storage.CDB_WRITE, lba=7, data=data)
        yield from storage.disk_io(actor, storage.CDB_READ, lba=7)

    return with_children(machine, after_boot(CHILDREN[0], a), after_boot(CHILDREN[1], idle))


def ping_a(actor: Actor):
    """A's half of ping: send B a frame, wait for the answer."""
    b_pid = actor.machine.pid("B")
    yield WaitUntil(
        lambda m: m.store.get(("vsc", b_pid, vmbus.Device.NETWORK)) is not None, "B's network up"
    )
    yield from network.send(actor, b_pid, b"ping from A")
    yield from network.receive(actor)


def ping_b(actor: Actor):
    """B's half: answer with a frame whose payload is the lab's B-traffic canary."""
    yield from network.receive(actor)
    token = yield Do(lambda m: plant_traffic(m), "B-traffic canary")
    yield from network.send(actor, actor.machine.pid("A"), b"pong:" + token)


def ping(machine: Machine, **_params) -> list[Actor]:
    """A sends B a frame; B answers with a frame whose payload is the lab's B-traffic canary."""
    return with_children(machine, after_boot(CHILDREN[0], ping_a), after_boot(CHILDREN[1], ping_b))


def plant_traffic(m: Machine) -> bytes:
    from hvlab.model.hypervisor.memory import HYPERVISOR

    token = m.new_token("B-traffic")
    m.register_secret("B-traffic", token, ("A", "B", ROOT, HYPERVISOR), -1, ("B.netvsc",))
    return token


def ide_port_io(machine: Machine, **_params) -> list[Actor]:
    """A reads block 3 through the emulated IDE controller, then writes block 9."""

    def a(actor):
        yield from ide_command(devices.ATA_READ_SECTORS, 3)
        yield PortIo(0x1F7, size=1)
        yield PortIo(0x1F0, size=devices.SECTOR)
        yield from ide_command(devices.ATA_WRITE_SECTORS, 9)
        yield PortIo(0x1F0, b"via IDE".ljust(devices.SECTOR, b"-"))
        yield PortIo(0x1F7, size=1)

    return with_children(machine, after_boot(CHILDREN[0], a), after_boot(CHILDREN[1], idle))


def ide_command(command: int, lba: int, count: int = 1):
    """Program the task-file registers, then the command (ATA PIO, LBA28)."""
    yield PortIo(0x1F2, bytes([count]))
    yield PortIo(0x1F3, bytes([lba & 0xFF]))
    yield PortIo(0x1F4, bytes([lba >> 8 & 0xFF]))
    yield PortIo(0x1F5, bytes([lba >> 16 & 0xFF]))
    yield PortIo(0x1F6, bytes([0xE0 | lba >> 24 & 0x0F]))
    yield PortIo(0x1F7, bytes([command]))


# What a workload does once boot is over, for runs that start from the booted state (the
# defense matrix). Workloads without an entry here can only be run from power-on.
CONTINUATIONS: dict[str, Callable[[Machine], list[Actor]]] = {
    "ping": lambda m: [Actor("A", "A", ping_a, m), Actor("B", "B", ping_b, m)],
}


@dataclass(frozen=True)
class Workload:
    name: str
    build: Callable[..., list[Actor]]
    summary: str


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "boot",
            boot,
            "the root creates children A and B; they enable hypercalls and store their secrets",
        ),
        Workload(
            "memory-probe",
            memory_probe,
            "boot, then five probes of memory isolation and the hypercall API",
        ),
        Workload(
            "disk-read",
            disk_read,
            "boot; A and B each read a block of their virtual disks "
            "through storvsc and the storage VSP",
        ),
        Workload(
            "disk-write",
            disk_write,
            "boot; A writes a block through the storage VSP and reads it back",
        ),
        Workload("ping", ping, "boot; A sends B a frame through the virtual switch, B answers"),
        Workload(
            "ide-port-io",
            ide_port_io,
            "boot; A reads and writes its disk through the emulated IDE controller (port I/O)",
        ),
        Workload(
            "busy",
            busy,
            "boot, then a long loop of memory traffic and signals (for time-travel benchmarks)",
        ),
    )
}
