"""An example hvlab attack plugin: a driver in the root reads guest A's secret page."""

from hvlab.api import (
    PAGE_SIZE,
    Attack,
    AttackActor,
    BeginProbe,
    EndProbe,
    Leak,
    Read,
    WaitUntil,
    children_booted,
    hookimpl,
)

__version__ = "0.1.0"


def program(actor):
    yield WaitUntil(children_booted, "both guests booted")
    yield BeginProbe("root-driver-reads-a", "a root driver reads A's secret page")
    frame = yield Leak("A-secret")
    yield Read(frame * PAGE_SIZE, 16)
    yield EndProbe()


@hookimpl
def hvlab_register_attacks(register):
    register(
        Attack(
            name="root-driver-reads-a",
            summary="a driver in the root reads guest A's secret",
            workload="boot",
            breach_sets=(frozenset(),),
            actors=lambda: [AttackActor("root.driver:peek", "root", program)],
        )
    )
