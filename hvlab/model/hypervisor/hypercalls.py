"""The hypercall interface: decoding the 64-bit input value, validation, dispatch.

Validation runs in one fixed order, and the first failing rule decides the status:

  1. call code         unknown code                            INVALID_HYPERCALL_CODE
  2. reserved bits     bits 27-31, 44-47, 60-63 non-zero       INVALID_HYPERCALL_INPUT
  3. rep rules         rep count 0 on a rep call, non-zero on
                       a simple call, rep start >= rep count,
                       fast on a call without a register form,
                       a variable header                       INVALID_HYPERCALL_INPUT
  4. alignment         input or output GPA not 8-byte aligned  INVALID_ALIGNMENT
  5. page crossing     a parameter block spans pages           INVALID_ALIGNMENT
  6. privilege         the caller's mask lacks the call's bit  ACCESS_DENIED
  7. caller state      the calling partition is finalized      INVALID_PARTITION_STATE
  8. GPA ranges        a block outside the caller's GPA space  INVALID_ALIGNMENT
                       a block on a page the caller cannot
                       read (input) or write (output)          INVALID_PARAMETER

Rules 1-5 look only at what the caller itself supplied, so they reveal nothing about the rest of
the machine; from rule 6 on the answer could depend on other partitions' state, so privilege is
checked first there and ACCESS_DENIED is what an unprivileged caller learns. Handlers then check
their target partition (INVALID_PARTITION_ID; not the parent: ACCESS_DENIED; wrong life-cycle
state: INVALID_PARTITION_STATE) and their parameters.

Parameter blocks use the model's own packing (little-endian, 8-byte fields), close to but simpler
than the TLFS structures; each handler's docstring gives its layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core import sites, slots
from hvlab.model.core.events import EventKind, Phase
from hvlab.model.hypervisor import calls, memory, partitions
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvStatus
from hvlab.model.hypervisor.hypercall_abi import FAST_BIT as FAST_BIT  # the input value's bits,
from hvlab.model.hypervisor.hypercall_abi import (
    HOA,
    SDL,
    CallSpec,
    HypercallInput,
    HypercallResult,
    Reject,
)
from hvlab.model.hypervisor.hypercall_abi import RESERVED_MASK as RESERVED_MASK  # named here too
from hvlab.model.hypervisor.memory import HYPERVISOR
from hvlab.model.hypervisor.partitions import PartitionState

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


def block_sizes(spec: CallSpec, ctl: HypercallInput) -> tuple[int, int]:
    reps = ctl.rep_count if spec.rep else 0
    return spec.in_size + reps * spec.in_elem, spec.out_size + reps * spec.out_elem


def validate(m: Machine, pid: int, ctl: HypercallInput, in_gpa: int, out_gpa: int):
    """Rules 1-8 above. Returns (spec, None) or (spec-or-None, Reject)."""
    spec = calls.CALLS.get(ctl.code)
    if spec is None or (spec.maintenance and m.on(HOA)):
        decided = HOA if spec is not None else None
        return None, Reject(
            HvStatus.INVALID_HYPERCALL_CODE, f"no call with code {ctl.code:#06x}", decided
        )
    if ctl.reserved:
        return spec, Reject(HvStatus.INVALID_HYPERCALL_INPUT, "reserved bits set")
    if spec.rep and ctl.rep_count == 0:
        return spec, Reject(HvStatus.INVALID_HYPERCALL_INPUT, "rep call with rep count 0")
    if not spec.rep and (ctl.rep_count or ctl.rep_start):
        return spec, Reject(HvStatus.INVALID_HYPERCALL_INPUT, "simple call with a rep count")
    if spec.rep and ctl.rep_start >= ctl.rep_count:
        return spec, Reject(HvStatus.INVALID_HYPERCALL_INPUT, "rep start not below rep count")
    if ctl.fast and not spec.fast_ok:
        return spec, Reject(HvStatus.INVALID_HYPERCALL_INPUT, "no register (fast) form")
    if ctl.var_header:
        return spec, Reject(HvStatus.INVALID_HYPERCALL_INPUT, "no variable header")
    in_size, out_size = block_sizes(spec, ctl)
    uses_in = in_size > 0 and not ctl.fast
    uses_out = out_size > 0
    if (uses_in and in_gpa % 8) or (uses_out and out_gpa % 8):
        return spec, Reject(HvStatus.INVALID_ALIGNMENT, "parameter block not 8-byte aligned")
    if uses_in and in_gpa % PAGE_SIZE + in_size > PAGE_SIZE:
        return spec, Reject(HvStatus.INVALID_ALIGNMENT, "input block spans pages")
    spans = uses_out and out_gpa % PAGE_SIZE + out_size > PAGE_SIZE
    if uses_out and spec.unchecked_output_without_sdl:
        # sdl-input-validation off: this handler's bound check is missing (the planted gap);
        # on, it is the model's own check, or the learner's (hvlab exercise rep-output-bound)
        why = None
        if m.on(SDL):
            why = slots.ask(
                m, slots.REP_OUTPUT, lambda: "output list spans pages" if spans else None,
                output_gpa=out_gpa, rep_start=ctl.rep_start, rep_count=ctl.rep_count,
                element_size=spec.out_elem,
            )  # fmt: skip
        if why:
            return spec, Reject(HvStatus.INVALID_ALIGNMENT, why, SDL)
    elif spans:
        return spec, Reject(HvStatus.INVALID_ALIGNMENT, "output block spans pages")
    priv = spec.privilege
    lacks = priv is not None and not partitions.has_privilege(m.store, pid, priv)
    if lacks and m.on(HOA):  # with hypercall-only-access off, privilege checks are skipped
        return spec, Reject(HvStatus.ACCESS_DENIED, f"caller lacks {priv.name}", HOA)
    if partitions.state(m.store, pid) == PartitionState.FINALIZED:
        return spec, Reject(HvStatus.INVALID_PARTITION_STATE, "caller is finalized")
    limit = partitions.field(m.store, pid, "gpa_pages", 0) * PAGE_SIZE
    for gpa, size, right, what in (
        (in_gpa, in_size, "r", "input"),
        (out_gpa, out_size, "w", "output"),
    ):
        if size == 0 or (what == "input" and ctl.fast):
            continue
        if gpa + min(size, PAGE_SIZE - gpa % PAGE_SIZE) > limit:
            return spec, Reject(HvStatus.INVALID_ALIGNMENT, f"{what} GPA outside the GPA space")
        entry = m.store.get(("slat", pid, gpa // PAGE_SIZE))
        if entry is None or right not in entry[1]:
            return spec, Reject(HvStatus.INVALID_PARAMETER, f"{what} page not accessible")
    return spec, None


def hypercall(
    m: Machine, pid: int, value: int, in_gpa: int = 0, out_gpa: int = 0, actor: str | None = None
) -> HypercallResult:
    """One hypercall by partition `pid`: entry → validate → dispatch → complete."""
    caller = m.name(pid)
    actor = actor or caller
    node = "root.kernel" if caller == "root" else f"{caller}.kernel"
    path = (node, HYPERVISOR)
    ctl = HypercallInput.decode(value)
    in_gpa &= (1 << 64) - 1
    out_gpa &= (1 << 64) - 1
    m.op += 1
    if partitions.field(m.store, pid, "hypercall_page") is None:
        # No hypercall page: the guest has no sanctioned way in, and the instruction raises #UD.
        m.emit(
            EventKind.FAULT,
            actor,
            "#UD",
            path=path,
            detail={"input_value": value, "why": "hypercall page not enabled"},
        )
        return HypercallResult(None, fault="#UD")
    spec, reject = validate(m, pid, ctl, in_gpa, out_gpa)
    name = spec.code.label if spec else f"HvCall#{ctl.code:04x}"
    m.emit(
        EventKind.HYPERCALL,
        actor,
        name,
        phase=Phase.ENTRY,
        path=path,
        detail={**ctl.fields(), "input_gpa": in_gpa, "output_gpa": out_gpa, "caller": caller},
    )
    if reject is not None:
        return _finish(m, actor, name, path, reject.status, 0, reject, validating=True)
    refusal = sites.refused_by(
        m, sites.HYPERCALL, partition=caller, code=int(ctl.code), name=name,
        rep_count=ctl.rep_count, fast=ctl.fast,
    )  # fmt: skip
    if refusal is not None:  # a plugin defense refused it, as the hypervisor's own checks do
        defense, why = refusal
        reject = Reject(HvStatus.ACCESS_DENIED, why, protection=defense)
        return _finish(m, actor, name, path, reject.status, 0, reject, validating=True)
    skipped = []
    if spec.privilege is not None and not m.on(HOA):
        skipped.append("privilege check skipped (hypercall-only-access off)")
    if spec.unchecked_output_without_sdl and not m.on(SDL):
        skipped.append("output bound check missing (sdl-input-validation off)")
    m.emit(
        EventKind.HYPERCALL,
        HYPERVISOR,
        name,
        phase=Phase.VALIDATE,
        status=HvStatus.SUCCESS,
        path=(HYPERVISOR,),
        detail={"skipped": tuple(skipped)} if skipped else None,
    )

    in_size, out_size = block_sizes(spec, ctl)
    if ctl.fast:
        data = in_gpa.to_bytes(8, "little") + out_gpa.to_bytes(8, "little")
    else:
        entry = m.store.get(("slat", pid, in_gpa // PAGE_SIZE)) if in_size else None
        data = (
            memory.read_phys(m.store, entry[0] * PAGE_SIZE + in_gpa % PAGE_SIZE, in_size)
            if entry
            else b""
        )
    call = calls.Call(m, pid, actor, spec, ctl, data)
    mark = len(m.store.pending)
    reject = None
    reps = 0
    outputs: list[bytes] = []
    try:
        if spec.rep:
            spec.prepare(call)
            for i in range(ctl.rep_start, ctl.rep_count):
                outputs.append(spec.handler(call, i) or b"")
                reps = i + 1
        else:
            outputs.append(spec.handler(call) or b"")
    except Reject as r:
        reject = r
        if not spec.rep or reps == 0:
            m.store.discard_to(mark)  # a failed call with nothing completed changes nothing
            outputs = []
    status = reject.status if reject else HvStatus.SUCCESS
    block = {}
    if spec.layout is not None and data:  # the input block as read, for the Detail pane
        block = {"layout": spec.layout.name, "bytes": data[: spec.layout.size].hex()}
    m.emit(
        EventKind.HYPERCALL,
        HYPERVISOR,
        name,
        phase=Phase.DISPATCH,
        status=status,
        protection=reject.protection if reject else None,
        path=(HYPERVISOR,),
        detail={**call.notes, **({"why": reject.why} if reject else {}), **block},
        cost=1 + len(outputs),
    )
    output = b"".join(outputs)
    if output and out_size:
        # a rep call's elements follow its fixed output block; a simple call's block starts at 0
        first = spec.out_size + ctl.rep_start * spec.out_elem if spec.rep else 0
        _write_output(m, pid, caller, actor, out_gpa, first, output)
    return _finish(m, actor, name, path, status, reps, reject, output=output)


def _write_output(
    m: Machine, pid: int, caller: str, actor: str, gpa: int, offset: int, output: bytes
):
    """The hypervisor translates the output GPA once and writes the block from there, as a
    page-sized mapping does: that is only safe because rule 5 kept the block inside the page."""
    entry = m.store.get(("slat", pid, gpa // PAGE_SIZE))
    if entry is None:
        return
    spa = entry[0] * PAGE_SIZE + gpa % PAGE_SIZE + offset
    limit = m.layout.frames * PAGE_SIZE
    output = output[: max(0, limit - spa)]  # no RAM past the last frame
    memory.write_phys(m.store, spa, output)
    frames = tuple(range(spa // PAGE_SIZE, (spa + max(len(output), 1) - 1) // PAGE_SIZE + 1))
    m.check_write(caller, frames, actor, {"spa": spa, "via": "hypercall output"})


def _finish(m, actor, name, path, status, reps, reject, *, validating=False, output=b""):
    result = HypercallResult(status, reps, output)
    detail = {"result_value": result.value, "reps_completed": reps}
    if reject is not None and validating:
        m.emit(
            EventKind.HYPERCALL,
            HYPERVISOR,
            name,
            phase=Phase.VALIDATE,
            status=status,
            protection=reject.protection,
            path=(HYPERVISOR,),
            detail={"why": reject.why},
        )
    m.emit(
        EventKind.HYPERCALL,
        actor,
        name,
        phase=Phase.COMPLETE,
        status=status,
        path=tuple(reversed(path)),
        detail=detail,
    )
    return result
