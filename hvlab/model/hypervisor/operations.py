"""What each of the engine's operations does on the hypervisor's machine: a partition's loads
and stores, its hypercalls (well-formed or raw), its MSR writes and port I/O, and planting a
secret or a guessable page in its memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hvlab.model.core import canaries, engine
from hvlab.model.core.engine import (
    Actor,
    Call,
    PlantPage,
    PlantSecret,
    PortIo,
    RawHypercall,
    Read,
    Write,
    WriteMsr,
)
from hvlab.model.core.events import EventKind
from hvlab.model.hypervisor.constants import PAGE_SIZE
from hvlab.model.hypervisor.hypercalls import hypercall
from hvlab.model.hypervisor.invoke import call
from hvlab.model.hypervisor.memory import HYPERVISOR, ROOT
from hvlab.model.hypervisor.portio import port_io

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


def _call(m: Machine, actor: Actor, op: Call) -> Any:
    return call(
        m,
        actor.pid,
        op.code,
        op.header,
        list(op.elems),
        rep_count=op.rep_count,
        actor=actor.name,
        fast=op.fast,
    )


def _raw_hypercall(m: Machine, actor: Actor, op: RawHypercall) -> Any:
    pid = actor.pid
    if op.data is not None:
        m.write(pid, op.in_gpa, op.data, actor.name)
    return hypercall(m, pid, op.value, op.in_gpa, op.out_gpa, actor.name)


def _port_io(m: Machine, actor: Actor, op: PortIo) -> Any:
    return port_io(m, actor.pid, op.port, op.data, op.size, actor.name)


def plant_secret(m: Machine, actor: Actor, op: PlantSecret) -> bool:
    token = m.new_token(op.name)
    pid = actor.pid
    if not m.write(pid, op.gpa, token, actor.name):
        return False
    pfn = m.store.get(("slat", pid, op.gpa // PAGE_SIZE))[0]
    owner = actor.partition
    m.register_secret(
        op.name,
        token,
        (owner, ROOT, HYPERVISOR),
        pfn,
        (f"{owner}.kernel",),
        writers=(owner, ROOT),
        partition=owner,
        gpa=op.gpa,
        frame=pfn,
    )
    return True


def plant_page(m: Machine, actor: Actor, op: PlantPage) -> bool:
    """Load the choice the canary's token picks into the actor's page, and register it."""
    token = m.new_token(op.name)
    choice = token[0] % len(op.choices)
    pid = actor.pid
    if not m.write(pid, op.gpa, op.choices[choice], actor.name):
        return False
    owner = actor.partition
    gpn = op.gpa // PAGE_SIZE
    canaries.plant_page(m.store, op.name, owner, gpn, (owner, ROOT, HYPERVISOR))
    m.emit(
        EventKind.CANARY,
        "lab",
        "page",
        path=(f"{owner}.kernel",),
        detail={
            "canary": op.name,
            "partition": owner,
            "gpa": op.gpa,
            "frame": m.store.get(("slat", pid, gpn))[0],
            "choice": f"{choice + 1} of {len(op.choices)}",
            "qword": f"{int.from_bytes(op.choices[choice][:8], 'little'):#x}",
        },
    )
    return True


def _write(m, actor, op) -> bool:
    """A program's write. Inside a probe (or a move) the page is noted as written in its name:
    a VSP that later finds a packet there with no tag of the model's own ring writer acts
    inside that probe, so a guest that writes its ring by hand is credited with the refusal."""
    key = ("writer-scope", actor.pid, op.gpa // PAGE_SIZE)
    old = m.store.get(key)
    if m.scope is not None:
        m.store.set(key, m.scope)
    ok = m.write(actor.pid, op.gpa, op.data, actor.name)
    if not ok and m.scope is not None:
        m.store.set(key, old)
    return ok


EXECUTORS: dict[type, Any] = {
    **engine.EXECUTORS,
    Read: lambda m, actor, op: m.read(actor.pid, op.gpa, op.size, actor.name),
    Write: lambda m, actor, op: _write(m, actor, op),
    Call: _call,
    RawHypercall: _raw_hypercall,
    WriteMsr: lambda m, actor, op: m.write_msr(actor.pid, op.msr, op.value, actor.name),
    PlantSecret: plant_secret,
    PlantPage: plant_page,
    PortIo: _port_io,
}
