"""hvlab's built-in attacks, written as a plugin like any other (entry point `hvlab-attacks`).

Each attack rides on the `boot` workload: its actor waits until both guests have booted and
stored their secrets, then runs one probe. The breach sets are this plugin's claims; the test
suite and `hvlab matrix` check them against the model under all 256 designs.
"""

from __future__ import annotations

from hvlab.hookspecs import hookimpl
from hvlab.model.attacks import Attack, AttackActor
from hvlab.model.engine import BeginProbe, EndProbe, Leak, Read, WaitUntil
from hvlab.model.hv import PAGE_SIZE
from hvlab.model.probes import PROBES, run
from hvlab.model.protections import Protection as P
from hvlab.model.workloads import children_booted

__version__ = "0.1.0"


def _probe_attack(name: str, *breach_sets: set[P]) -> Attack:
    probe = PROBES[name]

    def program(actor):
        yield WaitUntil(children_booted, "both guests booted")
        yield from run(name, actor)

    return Attack(
        name=name,
        summary=probe.description,
        workload="boot",
        breach_sets=tuple(frozenset(p.value for p in s) for s in breach_sets),
        actors=lambda: [AttackActor(f"{probe.partition}.malware", probe.partition, program)],
    )


def _root_driver_program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("root-driver-reads-guest", ROOT_DRIVER_SUMMARY)
    frame = yield Leak("B-secret")
    yield Read(frame * PAGE_SIZE, 16)  # the root's identity map reaches every guest frame
    yield EndProbe()


ROOT_DRIVER_SUMMARY = (
    "a third-party driver in the root reads guest B's memory: the honest limit — the root is in "
    "every guest's trusted computing base, so no protection here stops it"
)

ATTACKS = [
    _probe_attack("hv-read", {P.SEPARATE_ADDRESS_SPACES}),
    _probe_attack("hv-patch", {P.SEPARATE_ADDRESS_SPACES}, {P.HYPERCALL_ONLY_ACCESS}),
    _probe_attack("guest-snoop", {P.EXCLUSIVE_GUEST_MEMORY}),
    _probe_attack("privileged-hypercall", {P.HYPERCALL_ONLY_ACCESS}),
    _probe_attack("malformed-rep", {P.SDL_INPUT_VALIDATION}),
    Attack(
        name="root-driver-reads-guest",
        summary=ROOT_DRIVER_SUMMARY,
        workload="boot",
        breach_sets=(frozenset(),),  # breached under every design
        actors=lambda: [AttackActor("root.driver:reader", "root", _root_driver_program)],
    ),
]


@hookimpl
def hvlab_register_attacks(register):
    for attack in ATTACKS:
        register(attack)
