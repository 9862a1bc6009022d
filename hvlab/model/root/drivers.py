"""Loading drivers. With `no-third-party-code` on, the hypervisor image is fixed at boot and has
no loader: a request to load a driver into it is refused, and the driver never runs there. With
it off the hypervisor gains a loader — the monolithic design, where vendor drivers run inside
the hypervisor. Drivers loaded into the root are the root's business, under every design.

Store keys: ("driver", where, name) -> (who asked for it, the probe it was asked in);
("drivers", where) -> the names installed there, sorted (read on every frame a switch forwards).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvCallCode, HvStatus
from hvlab.model.hypervisor.invoke import call, pack
from hvlab.model.hypervisor.memory import HYPERVISOR
from hvlab.model.hypervisor.partitions import ROOT_PID
from hvlab.model.root.sites import driver_load, install

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

NTPC = Protection.NO_THIRD_PARTY_CODE.value


def load_driver(m: Machine, requester: str, name: str, where: str) -> bool:
    path = (
        f"{requester}" if "." in requester else f"{requester}.kernel",
        where if where == HYPERVISOR else "root.kernel",
    )
    if where == HYPERVISOR and m.on(NTPC):
        m.emit(
            EventKind.DRIVER,
            HYPERVISOR,
            "load-refused",
            status=HvStatus.OPERATION_DENIED,
            protection=NTPC,
            path=path,
            detail={"driver": name, "why": "the hypervisor has no driver loader"},
        )
        return False
    if not driver_load(m, where, name, requester):
        return False
    install(m, where, name, requester)
    m.emit(
        EventKind.DRIVER,
        HYPERVISOR if where == HYPERVISOR else "root.kernel",
        "loaded",
        path=(*path, f"{where}.driver:{name}"),
        detail={"driver": name, "into": where},
    )
    return True


def inject_driver(m: Machine, requester: str, name: str) -> bool:
    """Install a driver in the hypervisor without a loader: write a hook into hypervisor data
    through the maintenance interface, which exists only with hypercall-only-access off."""
    hook = (m.layout.hv_data.start + 2) * PAGE_SIZE
    result = call(
        m,
        ROOT_PID,
        HvCallCode.WRITE_HYPERVISOR_MEMORY,
        pack(hook, int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little")),
        actor=requester,
    )
    if not result.ok:
        return False
    install(m, HYPERVISOR, name, requester)
    m.emit(
        EventKind.DRIVER,
        requester,
        "injected",
        path=(requester, HYPERVISOR),
        detail={"driver": name, "into": HYPERVISOR, "how": "maintenance interface"},
    )
    return True
