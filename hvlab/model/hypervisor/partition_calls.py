"""The handlers of the partition calls: life cycle, memory pools and second-level maps,
intercepts and virtual processors. Each registers itself in the call table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core import canaries
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor import memory, partitions
from hvlab.model.hypervisor.constants import (
    PAGE_SIZE,
    HvCallCode,
    HvStatus,
    InterceptType,
    MapFlags,
    Privilege,
    rights_from_flags,
)
from hvlab.model.hypervisor.hypercall_abi import CP, Call, Reject, hypercall_spec
from hvlab.model.hypervisor.memory import HYPERVISOR, ROOT
from hvlab.model.hypervisor.partitions import MAX_VPS, PartitionState, VpState

if TYPE_CHECKING:
    pass


# -- partition life cycle -------------------------------------------------------------------
@hypercall_spec(HvCallCode.CREATE_PARTITION, in_size=16, out_size=8, privilege=CP)
def create_partition(call: Call) -> bytes:
    """In: flags (bits 15:0 = GPA space in pages, 0 = default), name tag (8 ASCII bytes).
    Out: the new partition id."""
    pages = call.u64(0) & 0xFFFF or partitions.DEFAULT_GPA_PAGES
    name = call.data[8:16].rstrip(b"\0").decode("ascii", "replace") or "child"
    if partitions.pid_of(call.store, name) is not None:
        name = f"{name}-{call.store.get(('next_pid',))}"
    pid = call.m.new_child(name, call.pid, pages)
    call.notes.update(partition=name, partition_id=pid, gpa_pages=pages)
    return pid.to_bytes(8, "little")


@hypercall_spec(HvCallCode.INITIALIZE_PARTITION, in_size=8, privilege=CP)
def initialize_partition(call: Call) -> None:
    """In: partition id."""
    pid = call.target(call.u64(0))
    call.require_state(pid, PartitionState.CREATED)
    partitions.set_field(call.store, pid, "state", PartitionState.INITIALIZED.value)
    call.notes["partition"] = call.m.name(pid)


@hypercall_spec(HvCallCode.FINALIZE_PARTITION, in_size=8, privilege=CP)
def finalize_partition(call: Call) -> None:
    """In: partition id. Stops its VPs."""
    pid = call.target(call.u64(0))
    call.require_state(pid, PartitionState.CREATED, PartitionState.INITIALIZED)
    partitions.set_field(call.store, pid, "state", PartitionState.FINALIZED.value)
    for vp in partitions.vps(call.store, pid):
        call.store.set(("vp", pid, vp), VpState.SUSPENDED.value)
    call.notes["partition"] = call.m.name(pid)


@hypercall_spec(HvCallCode.DELETE_PARTITION, in_size=8, privilege=CP)
def delete_partition(call: Call) -> None:
    """In: partition id. The partition must be finalized and its pool withdrawn."""
    st = call.store
    pid = call.target(call.u64(0))
    call.require_state(pid, PartitionState.FINALIZED)
    if partitions.pool(st, pid):
        raise Reject(HvStatus.INVALID_PARTITION_STATE, "memory pool not withdrawn")
    name = call.m.name(pid)
    for key in sorted((k for k in st.data if k[0] == "slat" and k[1] == pid), key=repr):
        pfn = memory.unmap_page(st, pid, key[2])
        _release_frame(st, pfn, name)
    for key in sorted((k for k in st.data if k[0] in ("sim", "sief") and k[1] == pid), key=repr):
        st.set(key, None)
    partitions.remove(st, pid)
    call.notes["partition"] = name


def _release_frame(st, pfn: int, name: str) -> None:
    """A frame no child maps any more goes back to the root that lent it, and stops being that
    child's marked page. (Its contents stay until the root's memory manager reuses it.)"""
    if memory.frame_owner(st, pfn) == name and not memory.guests_mapping(st, pfn):
        memory.set_owner(st, pfn, ROOT)
        st.set(("marker", pfn), None)


@hypercall_spec(HvCallCode.GET_PARTITION_ID, out_size=8, privilege=Privilege.ACCESS_PARTITION_ID)
def get_partition_id(call: Call) -> bytes:
    """Out: the caller's partition id."""
    return call.pid.to_bytes(8, "little")


# -- memory pools and second-level maps ------------------------------------------------------
def _pool_target(call: Call) -> None:
    pid = call.target(call.u64(0), allow_self=True)
    call.require_state(
        pid, PartitionState.ACTIVE, PartitionState.CREATED, PartitionState.INITIALIZED
    )
    call.notes["partition"] = call.m.name(pid)
    call.notes["target"] = pid


@hypercall_spec(
    HvCallCode.DEPOSIT_MEMORY,
    rep=True,
    in_size=8,
    in_elem=8,
    privilege=Privilege.ACCESS_MEMORY_POOL,
    prepare=_pool_target,
)
def deposit_memory(call: Call, i: int) -> None:
    """In: partition id (or self); rep: a page number in the caller's GPA space."""
    st = call.store
    target = call.notes["target"]
    gpn = call.elem(i)
    entry = memory.translate(st, call.pid, gpn)
    if entry is None or "w" not in entry[1]:
        raise Reject(HvStatus.INVALID_PARAMETER, f"page {gpn:#x} not accessible to the caller")
    pfn = entry[0]
    if memory.frame_owner(st, pfn) != call.m.name(call.pid):
        raise Reject(HvStatus.INVALID_PARAMETER, f"frame {pfn:#x} is not the caller's to give")
    tname = call.m.name(target)
    memory.set_owner(st, pfn, memory.pool_owner(tname), "pool")
    st.set(("pool", target), (*partitions.pool(st, target), pfn))
    if call.m.on(Protection.SEPARATE_ADDRESS_SPACES):
        # Deposited frames stay mapped, with no access, in every partition's map.
        for p, g in memory.mappers(st, pfn):
            memory.set_rights(st, p, g, "---")
    memory.write_phys(st, pfn * PAGE_SIZE, b"HVPOOL" + tname.encode()[:10])
    canaries.plant_marker(st, pfn, memory.pool_owner(tname), (HYPERVISOR,))
    call.notes.setdefault("frames", ())
    call.notes["frames"] += (pfn,)


@hypercall_spec(
    HvCallCode.WITHDRAW_MEMORY,
    rep=True,
    in_size=16,
    out_elem=8,
    privilege=Privilege.ACCESS_MEMORY_POOL,
    prepare=_pool_target,
)
def withdraw_memory(call: Call, i: int) -> bytes:
    """In: partition id (or self), proximity domain; rep out: page numbers given back."""
    st = call.store
    target = call.notes["target"]
    pool = partitions.pool(st, target)
    if not pool:
        raise Reject(HvStatus.INSUFFICIENT_MEMORY, "pool is empty")
    pfn = pool[-1]
    st.set(("pool", target), pool[:-1] or None)
    memory.zero_frame(st, pfn)  # scrubbed before it leaves the hypervisor
    st.set(("marker", pfn), None)
    memory.set_owner(st, pfn, call.m.name(call.pid), "ram")
    for p, g in memory.mappers(st, pfn):
        memory.set_rights(st, p, g, "rwx")
    return pfn.to_bytes(8, "little")


def _map_target(call: Call) -> None:
    pid = call.target(call.u64(0))
    call.require_state(pid, PartitionState.CREATED, PartitionState.INITIALIZED)
    flags = call.u32(16)
    if flags & ~0xF or not flags & MapFlags.READABLE:
        raise Reject(HvStatus.INVALID_PARAMETER, f"map flags {flags:#x}")
    call.notes.update(partition=call.m.name(pid), target=pid, rights=rights_from_flags(flags))


@hypercall_spec(
    HvCallCode.MAP_GPA_PAGES, rep=True, in_size=24, in_elem=8, privilege=CP, prepare=_map_target
)
def map_gpa_pages(call: Call, i: int) -> None:
    """In: target partition id, target GPA page base, map flags (u32); rep: source page number.

    Source pages are read in the target's parent's GPA space (the model's simplification: the
    caller is always that parent unless hypercall-only-access is off). The hypervisor does not
    stop a frame being mapped into two children; that is the root's policy (TLFS)."""
    st = call.store
    target = call.notes["target"]
    gpn = call.u64(8) + i
    if gpn >= partitions.field(st, target, "gpa_pages", 0):
        raise Reject(HvStatus.INVALID_PARAMETER, f"GPA page {gpn:#x} outside the target")
    parent = partitions.field(st, target, "parent")
    src = memory.translate(st, parent, call.elem(i))
    if src is None or src[1] == "---":
        raise Reject(HvStatus.INVALID_PARAMETER, f"source page {call.elem(i):#x} not accessible")
    pfn = src[0]
    memory.map_page(st, target, gpn, pfn, call.notes["rights"])
    if memory.frame_owner(st, pfn) == ROOT:
        memory.set_owner(st, pfn, call.m.name(target), "ram")
    call.notes.setdefault("frames", ())
    call.notes["frames"] += (pfn,)


def _unmap_target(call: Call) -> None:
    pid = call.target(call.u64(0))
    call.notes.update(partition=call.m.name(pid), target=pid)


@hypercall_spec(
    HvCallCode.UNMAP_GPA_PAGES, rep=True, in_size=16, privilege=CP, prepare=_unmap_target
)
def unmap_gpa_pages(call: Call, i: int) -> None:
    """In: target partition id, target GPA page base; rep count = pages."""
    st = call.store
    target = call.notes["target"]
    gpn = call.u64(8) + i
    pfn = memory.unmap_page(st, target, gpn)
    if pfn is None:
        raise Reject(HvStatus.INVALID_PARAMETER, f"GPA page {gpn:#x} not mapped")
    _release_frame(st, pfn, call.m.name(target))


@hypercall_spec(HvCallCode.INSTALL_INTERCEPT, in_size=24, privilege=CP)
def install_intercept(call: Call) -> None:
    """In: partition id, access mask (u32), intercept type (u32), parameter (e.g. a port)."""
    pid = call.target(call.u64(0))
    kind = call.u32(12)
    if kind not in set(InterceptType):
        raise Reject(HvStatus.INVALID_PARAMETER, f"intercept type {kind:#x}")
    call.store.set(("intercept", pid, kind, call.u64(16)), call.u32(8) or 1)
    call.notes.update(
        partition=call.m.name(pid), type=InterceptType(kind).name, parameter=call.u64(16)
    )


# -- virtual processors ------------------------------------------------------------------------
def _vp(call: Call, *, must_exist: bool) -> tuple[int, int]:
    pid = call.target(call.u64(0))
    vp = call.u32(8)
    if vp >= MAX_VPS or (must_exist and partitions.vp_state(call.store, pid, vp) is None):
        raise Reject(HvStatus.INVALID_VP_INDEX, f"vp {vp}")
    call.notes.update(partition=call.m.name(pid), vp=vp)
    return pid, vp


@hypercall_spec(HvCallCode.CREATE_VP, in_size=16, privilege=CP)
def create_vp(call: Call) -> None:
    """In: partition id, vp index (u32), flags (u32)."""
    pid, vp = _vp(call, must_exist=False)
    call.require_state(pid, PartitionState.INITIALIZED)
    if partitions.vp_state(call.store, pid, vp) is not None:
        raise Reject(HvStatus.INVALID_VP_STATE, f"vp {vp} exists")
    call.store.set(("vp", pid, vp), VpState.CREATED.value)


@hypercall_spec(HvCallCode.DELETE_VP, in_size=16, privilege=CP)
def delete_vp(call: Call) -> None:
    """In: partition id, vp index (u32). The VP must not be running."""
    pid, vp = _vp(call, must_exist=True)
    if partitions.vp_state(call.store, pid, vp) == VpState.RUNNING:
        raise Reject(HvStatus.INVALID_VP_STATE, f"vp {vp} is running")
    call.store.set(("vp", pid, vp), None)


@hypercall_spec(HvCallCode.START_VIRTUAL_PROCESSOR, in_size=16, privilege=CP)
def start_virtual_processor(call: Call) -> None:
    """In: partition id, vp index (u32)."""
    pid, vp = _vp(call, must_exist=True)
    call.require_state(pid, PartitionState.INITIALIZED)
    if partitions.vp_state(call.store, pid, vp) != VpState.CREATED:
        raise Reject(HvStatus.INVALID_VP_STATE, f"vp {vp} already started")
    call.store.set(("vp", pid, vp), VpState.RUNNING.value)


def _registers(call: Call) -> None:
    pid = call.target(call.u64(0), allow_self=True)
    vp = call.u32(8)
    if partitions.vp_state(call.store, pid, vp) is None:
        raise Reject(HvStatus.INVALID_VP_INDEX, f"vp {vp}")
    call.notes.update(partition=call.m.name(pid), vp=vp, target=pid)


@hypercall_spec(
    HvCallCode.GET_VP_REGISTERS,
    rep=True,
    in_size=16,
    in_elem=8,
    out_elem=16,
    prepare=_registers,
    unchecked_output_without_sdl=True,
)
def get_vp_registers(call: Call, i: int) -> bytes:
    """In: partition id (or self), vp index (u32), input VTL (u8); rep in: register name (u32);
    rep out: the 128-bit value. Its output-list bound check is the one sdl-input-validation
    guards: without it a crafted rep start writes past the output page."""
    name = call.elem(i) & 0xFFFFFFFF
    value = call.store.get(("vpreg", call.notes["target"], call.notes["vp"], name), 0)
    return value.to_bytes(16, "little")


@hypercall_spec(HvCallCode.SET_VP_REGISTERS, rep=True, in_size=16, in_elem=24, prepare=_registers)
def set_vp_registers(call: Call, i: int) -> None:
    """In: as GetVpRegisters; rep in: register name (u32, padded to 8), 128-bit value."""
    name = call.elem(i) & 0xFFFFFFFF
    value = call.elem(i, 8) | call.elem(i, 16) << 64
    call.store.set(("vpreg", call.notes["target"], call.notes["vp"], name), value or None)
