"""The operations an actor's program yields: immutable records, built once per step, so they
are kept as cheap to build as Python allows; they compare as tuples do, so tell them apart by
type. What each one does is the business of the layer it acts on (see `engine.EXECUTORS` and
the machine's `executors`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

Machine = Any


class Call(NamedTuple):
    """A well-formed hypercall by the actor's partition (see `invoke.call`); `fast` passes an
    input of up to 16 bytes in registers (RDX, R8) instead of the input page."""

    code: int  # an HvCallCode
    header: bytes = b""
    elems: tuple[bytes, ...] = ()
    rep_count: int | None = None
    fast: bool = False


class RawHypercall(NamedTuple):
    """Any 64-bit input value and GPAs; `data`, if given, is written at `in_gpa` first."""

    value: int
    in_gpa: int = 0
    out_gpa: int = 0
    data: bytes | None = None


class Read(NamedTuple):
    """Read `size` bytes at guest-physical address `gpa`, through the partition's own map."""

    gpa: int
    size: int


class Write(NamedTuple):
    """Write `data` at guest-physical address `gpa`, through the partition's own map."""

    gpa: int
    data: bytes


class WriteMsr(NamedTuple):
    """Write a synthetic MSR of the partition's VP (the hypercall page, the guest OS id, SynIC)."""

    msr: int
    value: int


class PlantSecret(NamedTuple):
    """The actor stores a secret in its own page; the lab registers it as a canary that only
    the actor, the root and the hypervisor may read, and marks the frame as the actor's."""

    name: str
    gpa: int


class PlantPage(NamedTuple):
    """The actor loads one of `choices` (a page's contents, one of a few a guesser could
    try: which build of a library it runs) into its own page; the lab registers which one as a
    canary only the actor, the root and the hypervisor may learn."""

    name: str
    gpa: int
    choices: tuple[bytes, ...]


class Do(NamedTuple):
    """Run `fn(machine)` as one operation (the root's own stack uses this)."""

    fn: Callable[[Machine], Any]
    label: str = ""


class WaitUntil(NamedTuple):
    """Park the actor until `cond(machine)` holds.

    The scheduler asks the condition before every operation. If `keys` are given — every store
    key the condition reads — it asks again only after one of them was set: a waiting service
    then costs nothing while the rest of the machine works. A condition that reads anything
    else must not give keys."""

    cond: Callable[[Machine], bool]
    label: str = ""
    keys: tuple = ()


class BeginProbe(NamedTuple):
    """Events until the matching EndProbe belong to this probe; the oracle judges each one."""

    name: str
    description: str = ""


class EndProbe(NamedTuple):
    """End the probe BeginProbe began: the oracle judges the events between them."""


class PortIo(NamedTuple):
    """OUT `data` to `port`, or IN `size` bytes from it (string I/O when size > 4)."""

    port: int
    data: bytes | None = None
    size: int = 1


class Leak(NamedTuple):
    """The lab grants the actor the frame number a named canary lives in (a stand-in for an
    information leak, to keep attack programs short). Returns the frame, or None."""

    canary: str


class LoadDriver(NamedTuple):
    """Ask for a driver to be loaded into `where` ("hypervisor" or "root")."""

    name: str
    where: str = "hypervisor"


class InjectDriver(NamedTuple):
    """Install a driver in the hypervisor through the maintenance interface, if there is one."""

    name: str
