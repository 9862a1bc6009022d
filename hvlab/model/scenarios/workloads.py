"""Workloads: the programs each actor runs. `boot` builds the machine; the others start from it.

A workload is a function from run parameters to a list of actors. Register new ones in
`WORKLOADS` (plugins will, later, through a hook).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hvlab.model.core.engine import (
    Actor,
    Do,
    PortIo,
    RawHypercall,
    Read,
    WaitUntil,
    Write,
)
from hvlab.model.core.layout import CHILDREN, ChildSpec
from hvlab.model.guest import netvsc, storvsc
from hvlab.model.guest.kernel import child_boot, ide_command, secret_name
from hvlab.model.hardware import devices
from hvlab.model.hypervisor import partitions
from hvlab.model.hypervisor.constants import (
    PAGE_SIZE,
)
from hvlab.model.hypervisor.machine import DISK_SECRET_LBA, Machine
from hvlab.model.hypervisor.memory import ROOT
from hvlab.model.root import network, storage, vmbus_server
from hvlab.model.root.boot import root_boot
from hvlab.model.scenarios import probes
from hvlab.model.vmbus import channels as vmbus


def planted(*names: str) -> Callable[[Machine], bool]:
    def cond(m: Machine) -> bool:
        have = m.store.get(("canaries",), ())
        return all(n in have for n in names)

    return cond


# -- boot -----------------------------------------------------------------------------------
def services(machine: Machine) -> list[Actor]:
    """The root's long-running components: the VMBus server, the storage VSP, the switch."""
    return [
        Actor(vmbus_server.SERVER, ROOT, vmbus_server.server, machine, daemon=True),
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
    """Both guests have booted: secrets stored, both synthetic devices open and their drivers'
    handshakes done."""
    if not planted(*(secret_name(c.name) for c in CHILDREN))(m):
        return False
    for c in CHILDREN:
        pid = partitions.pid_of(m.store, c.name)
        if any(m.store.get(("vsc", pid, d)) is None for d in vmbus.Device):
            return False
        if not (storvsc.ready(m, pid) and netvsc.ready(m, pid)):
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
            relid = actor.machine.store.get(("vsc", actor.pid, vmbus.Device.STORAGE))
            conn = vmbus.signal_connection(actor.machine, actor.pid, relid)
            for i in range(iterations):
                gpa = (24 + i % 8) * PAGE_SIZE
                yield Write(gpa, i.to_bytes(8, "little"))
                yield Read(gpa, 8)
                yield vmbus.signal_root(conn)

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


def disk_read_a(actor: Actor):
    """A reads block 3 of its virtual disk."""
    yield from storvsc.disk_io(actor, storvsc.CDB_READ, lba=3)


def disk_read_b(actor: Actor):
    """B reads its own secret block."""
    yield from storvsc.disk_io(actor, storvsc.CDB_READ, lba=DISK_SECRET_LBA)


def disk_read(machine: Machine, **_params) -> list[Actor]:
    """A reads block 3 of its virtual disk; B reads its own secret block 5."""
    return with_children(
        machine, after_boot(CHILDREN[0], disk_read_a), after_boot(CHILDREN[1], disk_read_b)
    )


def disk_write(machine: Machine, **_params) -> list[Actor]:
    """A writes a block to its virtual disk, then reads it back."""

    def a(actor):
        data = b"written by A".ljust(512, b"!")
        yield from storvsc.disk_io(actor, storvsc.CDB_WRITE, lba=7, data=data)
        yield from storvsc.disk_io(actor, storvsc.CDB_READ, lba=7)

    return with_children(machine, after_boot(CHILDREN[0], a), after_boot(CHILDREN[1], idle))


def ping_a(actor: Actor):
    """A's half of ping: send B a frame, wait for the answer."""
    b_pid = actor.machine.pid("B")
    yield WaitUntil(lambda m: netvsc.ready(m, b_pid), "B's network up")
    yield from netvsc.send(actor, b_pid, b"ping from A")
    yield from netvsc.receive(actor)


def ping_b(actor: Actor):
    """B's half: answer with a frame whose payload is the lab's B-traffic canary."""
    yield from netvsc.receive(actor)
    token = yield Do(lambda m: plant_traffic(m), "B-traffic canary")
    yield from netvsc.send(actor, actor.machine.pid("A"), b"pong:" + token)


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


VP_REGISTERS = (0x0002_0010, 0x0002_0004)  # HvX64RegisterRip, HvX64RegisterRsp


def vp_registers(machine: Machine, **_params) -> list[Actor]:
    """A reads two of its own VP's registers with HvCallGetVpRegisters: a rep call whose
    output list (two 16-byte values) lies on the page it names — the call the SDL's bound
    check guards, made as a well-behaved guest makes it."""
    from hvlab.model.core.layout import GUEST_INPUT_PAGE
    from hvlab.model.hypervisor.constants import HV_PARTITION_ID_SELF, HvCallCode
    from hvlab.model.hypervisor.hypercalls import HypercallInput
    from hvlab.model.hypervisor.invoke import pack

    def a(actor):
        names = b"".join(pack(r) for r in VP_REGISTERS)
        value = HypercallInput.encode(HvCallCode.GET_VP_REGISTERS, rep_count=len(VP_REGISTERS))
        out = (GUEST_INPUT_PAGE + 1) * PAGE_SIZE
        yield RawHypercall(
            value, GUEST_INPUT_PAGE * PAGE_SIZE, out, pack(HV_PARTITION_ID_SELF, 0) + names
        )
        yield Read(out, 16 * len(VP_REGISTERS))

    return with_children(machine, after_boot(CHILDREN[0], a), after_boot(CHILDREN[1], idle))


# What a workload does once boot is over, for runs that start from the booted state (the
# defense matrix). Workloads without an entry here can only be run from power-on.
CONTINUATIONS: dict[str, Callable[[Machine], list[Actor]]] = {
    "ping": lambda m: [Actor("A", "A", ping_a, m), Actor("B", "B", ping_b, m)],
    "disk-read": lambda m: [Actor("A", "A", disk_read_a, m), Actor("B", "B", disk_read_b, m)],
}


@dataclass(frozen=True)
class Workload:
    name: str
    build: Callable[..., list[Actor]]
    summary: str
    plugin: str = ""  # the plugin that registered it ("" for hvlab's own): its code runs fenced


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
            "vp-registers",
            vp_registers,
            "boot; A reads two of its VP's registers with HvCallGetVpRegisters (a rep call)",
        ),
        Workload(
            "busy",
            busy,
            "boot, then a long loop of memory traffic and signals (for time-travel benchmarks)",
        ),
    )
}
