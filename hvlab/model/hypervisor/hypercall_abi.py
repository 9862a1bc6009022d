"""The hypercall's binary interface as the hypervisor decodes it: the 64-bit input value, the
result value, the record a handler gets for one call, and the table of call codes that the
handler modules fill (partition_calls, message_calls; `calls` assembles it).

Layouts are little-endian; `u64` fields unless noted. Partition ids accept
HV_PARTITION_ID_SELF where a handler's docstring says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from hvlab.model.core.protections import Protection
from hvlab.model.core.wire import Struct
from hvlab.model.hypervisor import partitions
from hvlab.model.hypervisor.constants import (
    HV_PARTITION_ID_SELF,
    HvCallCode,
    HvStatus,
    Privilege,
)
from hvlab.model.hypervisor.partitions import PartitionState

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine

FAST_BIT = 1 << 16
RESERVED_MASK = (0x1F << 27) | (0xF << 44) | (0xF << 60)
HOA = Protection.HYPERCALL_ONLY_ACCESS.value
SDL = Protection.SDL_INPUT_VALIDATION.value


class HypercallInput(NamedTuple):
    """The decoded hypercall input value (RCX on x64). A named tuple: decoded on every call."""

    raw: int
    code: int
    fast: bool
    var_header: int
    rep_count: int
    rep_start: int
    reserved: int

    @classmethod
    def decode(cls, value: int) -> HypercallInput:
        value &= (1 << 64) - 1
        return cls(
            value,  # raw
            value & 0xFFFF,  # code
            bool(value & FAST_BIT),  # fast
            (value >> 17) & 0x3FF,  # var_header
            (value >> 32) & 0xFFF,  # rep_count
            (value >> 48) & 0xFFF,  # rep_start
            value & RESERVED_MASK,  # reserved
        )

    @staticmethod
    def encode(
        code: int,
        *,
        fast: bool = False,
        rep_count: int = 0,
        rep_start: int = 0,
        var_header: int = 0,
    ) -> int:
        return (
            (code & 0xFFFF)
            | (FAST_BIT if fast else 0)
            | ((var_header & 0x3FF) << 17)
            | ((rep_count & 0xFFF) << 32)
            | ((rep_start & 0xFFF) << 48)
        )

    def fields(self) -> dict[str, int | bool]:
        return {
            "input_value": self.raw,
            "code": self.code,
            "fast": self.fast,
            "var_header": self.var_header,
            "rep_count": self.rep_count,
            "rep_start": self.rep_start,
            "reserved": self.reserved,
        }


class HypercallResult(NamedTuple):
    """What the caller gets back. `status` is None when the instruction faulted (`fault`)."""

    status: HvStatus | None
    reps: int = 0
    output: bytes = b""
    fault: str | None = None

    @property
    def value(self) -> int | None:
        """The result value (RAX): status in bits 15:0, reps completed in 43:32."""
        return None if self.status is None else int(self.status) | (self.reps << 32)

    @property
    def ok(self) -> bool:
        return self.status is HvStatus.SUCCESS


class Reject(Exception):
    """A handler refuses: the status, and the protection that decided, if one did."""

    def __init__(self, status: HvStatus, why: str, protection: str | None = None):
        super().__init__(why)
        self.status = status
        self.why = why
        self.protection = protection


@dataclass
class Call:
    """What a handler sees: the machine, the caller, the decoded input value and input bytes."""

    m: Machine
    pid: int
    actor: str
    spec: CallSpec
    ctl: HypercallInput
    data: bytes
    notes: dict = field(default_factory=dict)

    def u64(self, offset: int) -> int:
        return int.from_bytes(self.data[offset : offset + 8], "little")

    def u32(self, offset: int) -> int:
        return int.from_bytes(self.data[offset : offset + 4], "little")

    def u16(self, offset: int) -> int:
        return int.from_bytes(self.data[offset : offset + 2], "little")

    def elem(self, i: int, offset: int = 0) -> int:
        return self.u64(self.spec.in_size + i * self.spec.in_elem + offset)

    def f(self, name: str):
        """A field of the input block, by its name in the call's layout."""
        return self.spec.layout.get(self.data, name)

    def e(self, i: int, name: str):
        """A field of rep element `i`, by its name in the element's layout."""
        start = self.spec.in_size + i * self.spec.in_elem
        return self.spec.elem.get(self.data[start : start + self.spec.in_elem], name)

    @property
    def store(self):
        return self.m.store

    def target(self, raw: int, *, allow_self: bool = False) -> int:
        """Resolve a target partition id; the caller must be its parent (or it, if allowed)."""
        pid = self.pid if raw == HV_PARTITION_ID_SELF else raw
        if not partitions.exists(self.store, pid):
            raise Reject(HvStatus.INVALID_PARTITION_ID, f"no partition {raw:#x}")
        if allow_self and pid == self.pid:
            return pid
        if partitions.field(self.store, pid, "parent") != self.pid:
            if self.m.on(HOA):
                raise Reject(HvStatus.ACCESS_DENIED, "caller is not the target's parent", HOA)
            self.notes["skipped"] = "parent check skipped (hypercall-only-access off)"
        return pid

    def require_state(self, pid: int, *states: PartitionState) -> None:
        if partitions.state(self.store, pid) not in {s.value for s in states}:
            raise Reject(
                HvStatus.INVALID_PARTITION_STATE,
                f"{self.m.name(pid)} is {partitions.state(self.store, pid)}",
            )


@dataclass(frozen=True)
class CallSpec:
    """One call code: its handler, whether it is a rep call, and its blocks as layouts — the
    input block, each rep element, the output block and each rep output element (`None`: the
    call has none). The sizes the validator checks come from the layouts."""

    code: HvCallCode
    handler: Callable
    rep: bool = False
    layout: Struct | None = None
    elem: Struct | None = None
    output: Struct | None = None
    out_elem_layout: Struct | None = None
    privilege: Privilege | None = None
    fast_ok: bool = False
    prepare: Callable = lambda call: None
    maintenance: bool = False
    unchecked_output_without_sdl: bool = False

    @property
    def in_size(self) -> int:
        return self.layout.size if self.layout else 0

    @property
    def in_elem(self) -> int:
        return self.elem.size if self.elem else 0

    @property
    def out_size(self) -> int:
        return self.output.size if self.output else 0

    @property
    def out_elem(self) -> int:
        return self.out_elem_layout.size if self.out_elem_layout else 0


CALLS: dict[int, CallSpec] = {}


def hypercall_spec(code: HvCallCode, **kw):
    def register(fn):
        CALLS[int(code)] = CallSpec(code, fn, **kw)
        return fn

    return register


CP = Privilege.CREATE_PARTITIONS
