"""The probes of memory isolation and the hypercall API. The `memory-probe` workload runs them
all; the built-in attack plugin offers each one as an attack of its own.

A probe is a program fragment for one actor, run between BeginProbe and EndProbe so that the
oracle judges its events together.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from hvlab.model.core.engine import (
    Actor,
    BeginProbe,
    Call,
    EndProbe,
    Leak,
    RawHypercall,
    Read,
    Write,
)
from hvlab.model.core.layout import CHILDREN, DEFAULT_LAYOUT, GUEST_INPUT_PAGE
from hvlab.model.guest.kernel import LIBRARY_BUILDS
from hvlab.model.hypervisor.constants import HV_PARTITION_ID_SELF, PAGE_SIZE, HvCallCode, MapFlags
from hvlab.model.hypervisor.hypercalls import HypercallInput
from hvlab.model.hypervisor.invoke import pack

A_SPEC, B_SPEC = CHILDREN


@dataclass(frozen=True)
class Probe:
    name: str
    partition: str
    description: str
    body: Callable[[Actor], Generator]


def hv_read(actor: Actor):
    yield Read(DEFAULT_LAYOUT.hv_data.start * PAGE_SIZE + 0x100, 16)


def hv_patch(actor: Actor):
    target = DEFAULT_LAYOUT.hv_code.start * PAGE_SIZE + 0x40
    yield Write(target, b"\xcc" * 8)
    yield Call(HvCallCode.WRITE_HYPERVISOR_MEMORY, pack(target, 0xCCCC_CCCC_CCCC_CCCC))


# Where A builds its guesses of B's library page: free pages of its RAM, one per build.
GUESS_PAGES = tuple(range(24, 24 + len(LIBRARY_BUILDS)))
PRESSURE_GPA = A_SPEC.ram_pages * PAGE_SIZE  # the first GPA above A's RAM


def guest_snoop(actor: Actor):
    """Page combining's side channel: A builds each page B might hold, makes the root short of
    memory (a touch above its RAM asks for a page), then writes to each guess again. A guess
    the memory manager combined with a page of B's waits for a copy-on-write — a write A can
    time — and so tells A which build B runs."""
    for gpn, page in zip(GUESS_PAGES, LIBRARY_BUILDS, strict=True):
        yield Write(gpn * PAGE_SIZE, page)
    yield Read(PRESSURE_GPA, 16)
    for gpn in GUESS_PAGES:
        yield Write(gpn * PAGE_SIZE + 8, b"\x01")


def privileged_hypercall(actor: Actor):
    frame = yield Leak("B-secret")  # the lab grants the frame number: an information leak
    target_gpn = 50
    result = yield Call(
        HvCallCode.MAP_GPA_PAGES,
        pack(HV_PARTITION_ID_SELF, target_gpn, MapFlags.READABLE | MapFlags.WRITABLE),
        (pack(frame),),
    )
    if result.ok:
        yield Read(target_gpn * PAGE_SIZE, 16)


def malformed_rep(actor: Actor):
    reps = 257
    out_gpa = (A_SPEC.ram_pages - 1) * PAGE_SIZE
    header = pack(HV_PARTITION_ID_SELF, 0)
    names = b"".join(pack(0x0002_0010) for _ in range(reps))  # HvX64RegisterRip
    value = HypercallInput.encode(HvCallCode.GET_VP_REGISTERS, rep_count=reps, rep_start=reps - 1)
    yield RawHypercall(value, GUEST_INPUT_PAGE * PAGE_SIZE, out_gpa, header + names)


PROBES = {
    p.name: p
    for p in (
        Probe(
            "hv-read",
            "root",
            "the root reads the hypervisor's secret through its identity map",
            hv_read,
        ),
        Probe(
            "hv-patch",
            "root",
            "the root patches hypervisor code: directly, then through a maintenance interface",
            hv_patch,
        ),
        Probe(
            "guest-snoop",
            "A",
            "A guesses which library build B runs: it builds each candidate page, makes the "
            "root short of memory, and times a write to each guess",
            guest_snoop,
        ),
        Probe(
            "privileged-hypercall",
            "A",
            "A maps B's secret frame into itself with HvCallMapGpaPages",
            privileged_hypercall,
        ),
        Probe(
            "malformed-rep",
            "A",
            "A asks GetVpRegisters for one register with rep start 256, output on its last page",
            malformed_rep,
        ),
    )
}


def run(name: str, actor: Actor):
    probe = PROBES[name]
    yield BeginProbe(name, probe.description)
    yield from probe.body(actor)
    yield EndProbe()
