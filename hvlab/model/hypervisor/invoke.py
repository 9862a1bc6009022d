"""How a partition's kernel makes a hypercall: write the input page, call, read the output page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core.layout import GUEST_INPUT_PAGE, GUEST_OUTPUT_PAGE
from hvlab.model.hypervisor.calls import CALLS
from hvlab.model.hypervisor.constants import PAGE_SIZE, HvCallCode, HvStatus
from hvlab.model.hypervisor.hypercalls import HypercallInput, HypercallResult, hypercall
from hvlab.model.hypervisor.partitions import ROOT_PID

if TYPE_CHECKING:
    from hvlab.model.hypervisor.machine import Machine


def io_pages(m: Machine, pid: int) -> tuple[int, int]:
    """The input and output GPAs a partition's kernel uses for hypercall parameters."""
    if pid == ROOT_PID:
        return m.layout.root_input_page * PAGE_SIZE, m.layout.root_output_page * PAGE_SIZE
    return GUEST_INPUT_PAGE * PAGE_SIZE, GUEST_OUTPUT_PAGE * PAGE_SIZE


def pack(*fields: int) -> bytes:
    return b"".join((f & (1 << 64) - 1).to_bytes(8, "little") for f in fields)


def call(
    m: Machine,
    pid: int,
    code: HvCallCode,
    header: bytes = b"",
    elems: list[bytes] | tuple[bytes, ...] = (),
    *,
    rep_count: int | None = None,
    actor: str | None = None,
    fast: bool = False,
) -> HypercallResult:
    """A well-formed call as a guest kernel makes it. Rep calls take their count from `elems`
    unless `rep_count` is given (calls with no input elements, like UnmapGpaPages). A `fast`
    call passes its input (at most 16 bytes) in RDX and R8, and writes no input page."""
    spec = CALLS[int(code)]
    if fast:
        regs = header.ljust(16, b"\0")
        value = HypercallInput.encode(code, fast=True)
        rdx, r8 = int.from_bytes(regs[:8], "little"), int.from_bytes(regs[8:16], "little")
        return hypercall(m, pid, value, rdx, r8, actor)
    in_gpa, out_gpa = io_pages(m, pid)
    payload = header + b"".join(elems)
    if payload and not m.write(pid, in_gpa, payload, actor):
        return HypercallResult(HvStatus.INVALID_PARAMETER)
    reps = (rep_count if rep_count is not None else len(elems)) if spec.rep else 0
    value = HypercallInput.encode(code, rep_count=reps)
    result = hypercall(m, pid, value, in_gpa, out_gpa, actor)
    out_size = spec.out_size + reps * spec.out_elem
    if result.ok and out_size:
        m.read(pid, out_gpa, out_size, actor)
    return result
