"""The sites every layer shares: a sealed context, and the defense sites.

A defense site is a point where the model asks each plugin defense that is switched on whether
what crosses may pass (`refused_by`): the hypervisor's hypercall dispatch, a partition's memory
access and port I/O, the VSP's fetch of a guest's packet, the VMBus server's GPADL and OPEN. The
model knows nothing of pluggy: the lab layer sets `Machine.site_handler`, whose `watched` names
the sites some plugin implements (the model asks no one at the others).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

Machine = Any

# Sites where a plugin defense, while switched on, may refuse what crosses (DefenseSite)
HYPERCALL = "hypercall"  # a call that passed the hypervisor's own checks, before dispatch
MEMORY_ACCESS = "memory-access"  # a read or write through a partition's map
PORT_IO = "port-io"  # an IN or OUT by a child
VSP_PACKET = "vsp-packet"  # a packet the VSP fetched from a guest's ring, before it acts
VMBUS_MESSAGE = "vmbus-message"  # a GPADL or OPENCHANNEL control message, before the server acts
DEFENSE_SITES = (HYPERCALL, MEMORY_ACCESS, PORT_IO, VSP_PACKET, VMBUS_MESSAGE)


class Sealed:
    """A site context: what it offers is its fields (read-only) and its capability methods.
    Assigning anything raises, so a plugin cannot rewrite a frame or a decision behind the
    capability that would have recorded it (the model keeps its state in `_state`)."""

    __slots__ = ("_state",)

    def __setattr__(self, name, value) -> None:
        raise AttributeError(
            f"a site context is read-only ({name!r}): act through its capabilities, each an event"
        )

    def __delattr__(self, name) -> None:
        raise AttributeError("a site context is read-only")


class _State:
    """The model's side of a site context (a plugin that reaches it is past the fence)."""

    __slots__ = ("dropped", "frame", "m", "modified", "refused")

    def __init__(self, m, frame: bytes = b"") -> None:
        self.m, self.frame = m, frame
        self.dropped = self.modified = self.refused = False


class DefenseSite(Sealed):
    """What a plugin defense sees at one of the DEFENSE_SITES while it is switched on: `site`,
    `defense` (its id), `fields` (a read-only mapping of what crosses: the partition, and per
    site the call's code and name, the GPA and size, the port, the packet's type and length,
    the message's type); it may `refuse(why)`. The model then refuses as it does for its own
    protections — a failing status, an event with the defense as the deciding protection."""

    __slots__ = ("defense", "fields", "site")

    def __init__(self, site: str, defense: str, fields: dict, m) -> None:
        for name, value in (
            ("site", site), ("defense", defense), ("fields", MappingProxyType(dict(fields))),
            ("_state", _State(m)),
        ):  # fmt: skip
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"DefenseSite(site={self.site!r}, defense={self.defense!r}, {dict(self.fields)})"

    def __getattr__(self, name: str):
        """`ctx.partition` for `ctx.fields["partition"]`."""
        fields = object.__getattribute__(self, "fields")
        if name in fields:
            return fields[name]
        raise AttributeError(
            f"{name!r}: this site offers site, defense, refuse(why) and {', '.join(fields)}"
        )

    @property
    def refused(self) -> bool:
        return self._state.refused

    def refuse(self, why: str) -> None:
        """Refuse what crosses here; `why` is said in the refusal's event."""
        self._state.refused = True
        self._state.frame = str(why)  # the reason, kept on the model's side


def refused_by(m: Machine, site: str, **fields) -> tuple[str, str] | None:
    """Let each switched-on plugin defense that watches `site` look at what crosses it: the
    first that refuses, as (defense id, why); None when all let it pass (or none watches)."""
    handler = m.site_handler
    if handler is None or site not in getattr(handler, "watched", ()):
        return None
    for defense in sorted(m.defenses):
        if not m.on(defense):
            continue
        ctx = DefenseSite(site, defense, fields, m)
        handler(site, f"defense:{defense}", ctx)
        if ctx.refused:
            return defense, ctx._state.frame
    return None
