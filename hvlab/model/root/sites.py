"""Sites: the points on the data path where an installed driver gets to act.

A driver is installed somewhere (`hypervisor` or `root`) by `LoadDriver` — which the model may
refuse — or, with `hypercall-only-access` off, injected into the hypervisor through the
maintenance interface. At a site the model calls the plugin that owns each driver installed
*there*, and no other, with a narrow context: what it may observe, change or drop at that site.
Every use of a capability is an event, judged by the oracle with the driver as principal.

The model knows nothing of pluggy: the lab layer sets `Machine.site_handler`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.events import EventKind
from hvlab.model.core.sites import DefenseSite as DefenseSite  # where plugins found it
from hvlab.model.core.sites import Sealed, _State

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

VMBUS_PACKET = "vmbus-packet"
DRIVER_LOAD = "driver-load"


def install(m: Machine, where: str, name: str, requester: str) -> None:
    """Record a driver as installed at `where` (its load was allowed)."""
    m.store.set(("driver", where, name), (requester, m.scope))
    m.store.set(("drivers", where), tuple(sorted({*loaded(m, where), name})))


def loaded(m: Machine, where: str) -> list[str]:
    """The drivers installed in `where`, by name."""
    return list(m.store.get(("drivers", where), ()))


def principal(where: str, driver: str) -> str:
    return f"{where}.driver:{driver}"


class PacketSite(Sealed):
    """What a driver sees as a frame crosses the virtual switch where it is installed: `where`,
    `driver`, `source`, `destination`, `length`, `origin` (the frames the packet was read
    from); it may `observe()`, `modify(frame)` or `drop()` it, each an event."""

    __slots__ = ("destination", "driver", "origin", "source", "where")

    def __init__(
        self, where: str, driver: str, source: str, destination: str, m, frame: bytes, origin=()
    ) -> None:
        for name, value in (
            ("where", where), ("driver", driver), ("source", source),
            ("destination", destination), ("origin", tuple(origin)), ("_state", _State(m, frame)),
        ):  # fmt: skip
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        route = f"{self.source}→{self.destination}"
        return f"PacketSite(where={self.where!r}, driver={self.driver!r}, {route})"

    @property
    def length(self) -> int:
        return len(self._state.frame)

    @property
    def dropped(self) -> bool:
        return self._state.dropped

    @property
    def modified(self) -> bool:
        return self._state.modified

    def observe(self) -> bytes:
        """Read the frame. The oracle checks what the driver just learned."""
        m, frame = self._state.m, self._state.frame
        who = principal(self.where, self.driver)
        # the frame's way to the driver: out of the sender's channel, into the switch, to it
        route = (f"{self.source}.net-channel", f"{self.where}.vswitch", who)
        m.emit(
            EventKind.SITE,
            who,
            "observe-frame",
            path=route,
            detail={"from": self.source, "to": self.destination, "length": self.length},
        )
        where = {"site": VMBUS_PACKET} | ({"frames": self.origin} if self.origin else {})
        m.check_read(who, frame, who, where, path=route)
        return frame

    def modify(self, frame: bytes) -> None:
        """Replace the frame with `frame` (at most as long as the original)."""
        state = self._state
        who = principal(self.where, self.driver)
        state.frame = bytes(frame[: len(state.frame)])
        state.modified = True
        state.m.emit(
            EventKind.SITE,
            who,
            "modify-frame",
            path=(who,),
            detail={"from": self.source, "to": self.destination, "length": len(frame)},
        )

    def drop(self) -> None:
        """Stop the frame here."""
        who = principal(self.where, self.driver)
        self._state.dropped = True
        self._state.m.emit(
            EventKind.SITE,
            who,
            "drop-frame",
            path=(who,),
            detail={"from": self.source, "to": self.destination},
        )


def vmbus_packet(
    m: Machine, where: str, source: str, destination: str, frame: bytes, origin=()
) -> bytes | None:
    """Run the packet site at `where`. Returns the frame to forward (drivers may have changed
    it), or None if one dropped it. Drivers
    installed in the hypervisor while the switch runs in the root are told nothing — that is
    what guest-traffic-via-root buys — and the model records the decision in their scope."""
    from hvlab.model.core.protections import Protection

    if where == "root":
        for driver in loaded(m, "hypervisor"):
            _in_scope(
                m,
                where="hypervisor",
                driver=driver,
                act=lambda d=driver: m.emit(
                    EventKind.SITE,
                    principal("hypervisor", d),
                    "frame-bypassed-hypervisor",
                    protection=Protection.GUEST_TRAFFIC_VIA_ROOT.value,
                    path=("root.vswitch",),
                    detail={
                        "from": source,
                        "to": destination,
                        "why": "the switch runs in the root; the frame never enters the hypervisor",
                    },
                ),
            )
    for driver in loaded(m, where):
        ctx = PacketSite(where, driver, source, destination, m, frame, origin=tuple(origin))
        _in_scope(m, where, driver, lambda c=ctx: _call(m, VMBUS_PACKET, c))
        if ctx.dropped:
            return None
        frame = ctx._state.frame
    return frame


def _call(m: Machine, site: str, ctx) -> None:
    if m.site_handler is not None:
        m.site_handler(site, ctx.driver, ctx)


def _in_scope(m: Machine, where: str, driver: str, act) -> None:
    """Events a driver causes belong to the probe that installed it."""
    entry = m.store.get(("driver", where, driver))
    previous = m.scope
    m.scope = entry[1] if entry else previous
    try:
        act()
    finally:
        m.scope = previous


class DriverLoadSite(Sealed):
    """What a defense sees when a driver asks to be loaded (`driver`, `where`, `requester`,
    `defense`): it may `refuse(why)` the load, an event the oracle reads."""

    __slots__ = ("defense", "driver", "requester", "where")

    def __init__(self, driver: str, where: str, requester: str, defense: str, m) -> None:
        for name, value in (
            ("driver", driver), ("where", where), ("requester", requester), ("defense", defense),
            ("_state", _State(m)),
        ):  # fmt: skip
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"DriverLoadSite(driver={self.driver!r}, where={self.where!r})"

    @property
    def refused(self) -> bool:
        return self._state.refused

    def refuse(self, why: str) -> None:
        from hvlab.model.hypervisor.constants import HvStatus

        self._state.refused = True
        self._state.m.emit(
            EventKind.DRIVER,
            f"{self.where}.defense:{self.defense}",
            "load-refused",
            status=HvStatus.ACCESS_DENIED,
            protection=self.defense,
            path=(self.requester, self.where),
            detail={"driver": self.driver, "why": why},
        )


def driver_load(m: Machine, where: str, driver: str, requester: str) -> bool:
    """Let each defense that is switched on look at a driver load. False if one refused."""
    for defense in sorted(m.defenses):
        if not m.on(defense):
            continue
        ctx = DriverLoadSite(driver, where, requester, defense, m)
        if m.site_handler is not None:
            m.site_handler(DRIVER_LOAD, f"defense:{defense}", ctx)
        if ctx.refused:
            return False
    return True
