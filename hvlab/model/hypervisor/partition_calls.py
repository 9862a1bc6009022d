"""The handlers of the partition calls: life cycle, memory pools and second-level maps,
intercepts and virtual processors. Each registers itself in the call table, with the layouts of
its blocks (hypercall_layouts), read by field name.

The hypervisor keeps its own structures for a partition in pages of that partition's pool,
deposited by the parent before it asks for them: InitializePartition takes PARTITION_PAGES,
CreateVp VP_PAGES, and MapGpaPages a SLAT page for each SLAT_SPAN guest pages it first maps;
CreatePartition takes a page of the *caller's* pool. A call that finds too few free pages
answers HV_STATUS_INSUFFICIENT_MEMORY, and the parent deposits more and calls again.
(The counts are the model's, scaled to its small machine.)
"""

from __future__ import annotations

from hvlab.model.core import canaries
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor import hypercall_layouts as L
from hvlab.model.hypervisor import memory, partitions
from hvlab.model.hypervisor.constants import (
    HV_PARTITION_ID_SELF,
    PAGE_SIZE,
    REGISTER_EXPLICIT_SUSPEND,
    REGISTER_INTERCEPT_SUSPEND,
    HvCallCode,
    HvStatus,
    InterceptType,
    MapFlags,
    Privilege,
    rights_from_flags,
)
from hvlab.model.hypervisor.hypercall_abi import CP, HOA, Call, Reject, hypercall_spec
from hvlab.model.hypervisor.memory import HYPERVISOR, ROOT
from hvlab.model.hypervisor.partitions import MAX_VPS, ROOT_PID, PartitionState, VpState

CREATE_PAGES, PARTITION_PAGES, VP_PAGES = 1, 2, 1
SLAT_SPAN = 64  # guest pages one SLAT page maps, in the model
EXPLICIT_SUSPEND, INTERCEPT_SUSPEND = REGISTER_EXPLICIT_SUSPEND, REGISTER_INTERCEPT_SUSPEND


def _allocate(call: Call, pid: int, count: int, what: str) -> tuple[int, ...]:
    """Pool pages for the hypervisor's own structures, or INSUFFICIENT_MEMORY."""
    taken = partitions.take_pool_pages(call.store, pid, count)
    if taken is None:
        free = len(partitions.pool_free(call.store, pid))
        raise Reject(
            HvStatus.INSUFFICIENT_MEMORY,
            f"{call.m.name(pid)}'s pool has {free} free page(s); {what} needs {count}",
        )
    for pfn in taken:
        memory.set_owner(call.store, pfn, memory.frame_owner(call.store, pfn), what)
    call.notes.setdefault("pool_pages", ())
    call.notes["pool_pages"] += taken
    return taken


# -- partition life cycle -------------------------------------------------------------------
@hypercall_spec(
    HvCallCode.CREATE_PARTITION,
    layout=L.CREATE_PARTITION,
    output=L.PARTITION_ID,
    privilege=CP,
)
def create_partition(call: Call) -> bytes:
    """A new partition, child of the caller. Its structures take a page of the caller's pool.
    Out: the new partition id. (The model reads bits 15:0 of the flags as the size of the GPA
    space in pages; the hypervisor knows the partition by id, and the root names it.)"""
    pages = call.f("flags") & 0xFFFF or partitions.DEFAULT_GPA_PAGES
    _allocate(call, call.pid, CREATE_PAGES, "partition")
    pid = call.m.new_child(f"partition-{call.store.get(('next_pid',), ROOT_PID)}", call.pid, pages)
    call.notes.update(partition_id=pid, gpa_pages=pages)
    return pid.to_bytes(8, "little")


@hypercall_spec(HvCallCode.INITIALIZE_PARTITION, layout=L.PARTITION_ID, privilege=CP)
def initialize_partition(call: Call) -> None:
    """The partition's own structures, from the pool its parent deposited beforehand."""
    pid = call.target(call.f("partition_id"))
    call.require_state(pid, PartitionState.CREATED)
    call.notes["partition"] = call.m.name(pid)
    _allocate(call, pid, PARTITION_PAGES, "partition")
    partitions.set_field(call.store, pid, "state", PartitionState.INITIALIZED.value)


@hypercall_spec(HvCallCode.FINALIZE_PARTITION, layout=L.FINALIZE_PARTITION, privilege=CP)
def finalize_partition(call: Call) -> None:
    """Stops its VPs; its pages can then be withdrawn."""
    pid = call.target(call.f("partition_id"))
    call.require_state(pid, PartitionState.CREATED, PartitionState.INITIALIZED)
    partitions.set_field(call.store, pid, "state", PartitionState.FINALIZED.value)
    for vp in partitions.vps(call.store, pid):
        call.store.set(("vp", pid, vp), VpState.SUSPENDED.value)
    # the hypervisor's structures are torn down: their pages are free to withdraw
    for pfn in partitions.pool_used(call.store, pid):
        memory.set_owner(call.store, pfn, memory.frame_owner(call.store, pfn), "pool")
    call.store.set(("pool-used", pid), None)
    call.notes["partition"] = call.m.name(pid)


@hypercall_spec(HvCallCode.DELETE_PARTITION, layout=L.DELETE_PARTITION, privilege=CP)
def delete_partition(call: Call) -> None:
    """The partition must be finalized and its pool withdrawn."""
    st = call.store
    pid = call.target(call.f("partition_id"))
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


@hypercall_spec(
    HvCallCode.GET_PARTITION_ID,
    output=L.GET_PARTITION_ID_OUT,
    privilege=Privilege.ACCESS_PARTITION_ID,
)
def get_partition_id(call: Call) -> bytes:
    """Out: the caller's partition id."""
    return call.pid.to_bytes(8, "little")


# -- memory pools and second-level maps ------------------------------------------------------
def _pool_target(call: Call) -> None:
    pid = call.target(call.f("partition_id"), allow_self=True)
    call.require_state(
        pid, PartitionState.ACTIVE, PartitionState.CREATED, PartitionState.INITIALIZED
    )
    call.notes["partition"] = call.m.name(pid)
    call.notes["target"] = pid


@hypercall_spec(
    HvCallCode.DEPOSIT_MEMORY,
    rep=True,
    layout=L.DEPOSIT_MEMORY,
    elem=L.GPA_PAGE,
    privilege=Privilege.ACCESS_MEMORY_POOL,
    prepare=_pool_target,
)
def deposit_memory(call: Call, i: int) -> None:
    """Rep: a page of the caller's own GPA space, given to the target's pool. A page the caller
    cannot give — not mapped writable, or not its own — is HV_STATUS_OPERATION_DENIED."""
    st = call.store
    target = call.notes["target"]
    gpn = call.e(i, "gpa_page_number")
    entry = memory.translate(st, call.pid, gpn)
    if entry is None or "w" not in entry[1]:
        raise Reject(HvStatus.OPERATION_DENIED, f"page {gpn:#x} is not the caller's to give")
    pfn = entry[0]
    if memory.frame_owner(st, pfn) != call.m.name(call.pid):
        raise Reject(HvStatus.OPERATION_DENIED, f"frame {pfn:#x} is not the caller's to give")
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
    layout=L.WITHDRAW_MEMORY,
    out_elem_layout=L.GPA_PAGE,
    privilege=Privilege.ACCESS_MEMORY_POOL,
    prepare=_pool_target,
)
def withdraw_memory(call: Call, i: int) -> bytes:
    """Rep out: free pool pages given back (pages the hypervisor's structures hold stay)."""
    st = call.store
    target = call.notes["target"]
    free = partitions.pool_free(st, target)
    if not free:
        raise Reject(HvStatus.INSUFFICIENT_MEMORY, "no free page in the pool")
    pfn = free[-1]
    st.set(("pool", target), tuple(p for p in partitions.pool(st, target) if p != pfn) or None)
    memory.zero_frame(st, pfn)  # scrubbed before it leaves the hypervisor
    st.set(("marker", pfn), None)
    memory.set_owner(st, pfn, call.m.name(call.pid), "ram")
    for p, g in memory.mappers(st, pfn):
        memory.set_rights(st, p, g, "rwx")
    return pfn.to_bytes(8, "little")


def _map_target(call: Call) -> None:
    pid = call.target(call.f("target_partition_id"))
    call.require_state(pid, PartitionState.CREATED, PartitionState.INITIALIZED)
    flags = call.f("map_flags")
    if flags & ~0xF or not flags & MapFlags.READABLE:
        raise Reject(HvStatus.INVALID_PARAMETER, f"map flags {flags:#x}")
    call.notes.update(partition=call.m.name(pid), target=pid, rights=rights_from_flags(flags))


@hypercall_spec(
    HvCallCode.MAP_GPA_PAGES,
    rep=True,
    layout=L.MAP_GPA_PAGES,
    elem=L.GPA_PAGE,
    privilege=CP,
    prepare=_map_target,
)
def map_gpa_pages(call: Call, i: int) -> None:
    """Rep: a source page number, mapped at target_gpa_base + i with the flags' rights.

    Source pages are read in the target's parent's GPA space (the model's simplification: the
    caller is always that parent unless hypercall-only-access is off). The hypervisor does not
    stop a frame being mapped into two children; that is the root's policy (TLFS). The first
    mapping in each SLAT_SPAN of the target's GPA space takes a SLAT page from its pool."""
    st = call.store
    target = call.notes["target"]
    gpn = call.f("target_gpa_base") + i
    if gpn >= partitions.field(st, target, "gpa_pages", 0):
        raise Reject(HvStatus.INVALID_PARAMETER, f"GPA page {gpn:#x} outside the target")
    parent = partitions.field(st, target, "parent")
    source = call.e(i, "gpa_page_number")
    src = memory.translate(st, parent, source)
    if src is None or src[1] == "---":
        raise Reject(HvStatus.INVALID_PARAMETER, f"source page {source:#x} not accessible")
    if st.get(("slat-page", target, gpn // SLAT_SPAN)) is None:
        (page,) = _allocate(call, target, 1, "slat")
        st.set(("slat-page", target, gpn // SLAT_SPAN), page)
    pfn = src[0]
    memory.map_page(st, target, gpn, pfn, call.notes["rights"])
    if memory.frame_owner(st, pfn) == ROOT:
        memory.set_owner(st, pfn, call.m.name(target), "ram")
    call.notes.setdefault("frames", ())
    call.notes["frames"] += (pfn,)


def _unmap_target(call: Call) -> None:
    raw_id = call.f("target_partition_id")
    if raw_id in (HV_PARTITION_ID_SELF, call.pid) and call.pid == ROOT_PID:
        raise Reject(HvStatus.ACCESS_DENIED, "the root cannot unmap its own GPA space", HOA)
    pid = call.target(raw_id)
    call.notes.update(partition=call.m.name(pid), target=pid)


@hypercall_spec(
    HvCallCode.UNMAP_GPA_PAGES,
    rep=True,
    layout=L.UNMAP_GPA_PAGES,
    privilege=CP,
    prepare=_unmap_target,
)
def unmap_gpa_pages(call: Call, i: int) -> None:
    """Rep count = pages from target_gpa_base. A page outside the target's GPA space is
    HV_STATUS_INVALID_PARAMETER; a page already unmapped is ignored (TLFS), the rep counted."""
    st = call.store
    target = call.notes["target"]
    gpn = call.f("target_gpa_base") + i
    if gpn >= partitions.field(st, target, "gpa_pages", 0):
        raise Reject(HvStatus.INVALID_PARAMETER, f"GPA page {gpn:#x} outside the target")
    pfn = memory.unmap_page(st, target, gpn)
    if pfn is not None:
        _release_frame(st, pfn, call.m.name(target))


@hypercall_spec(HvCallCode.INSTALL_INTERCEPT, layout=L.INSTALL_INTERCEPT, privilege=CP)
def install_intercept(call: Call) -> None:
    """An intercept of an access type (a mask) for a port, an MSR, CPUID or an exception."""
    pid = call.target(call.f("partition_id"))
    kind = call.f("intercept_type")
    if kind not in set(InterceptType):
        raise Reject(HvStatus.INVALID_PARAMETER, f"intercept type {kind:#x}")
    parameter = call.f("intercept_parameter")
    call.store.set(("intercept", pid, kind, parameter), call.f("access_type") or 1)
    call.notes.update(
        partition=call.m.name(pid), type=InterceptType(kind).name, parameter=parameter
    )


# -- virtual processors ------------------------------------------------------------------------
def _vp(call: Call, *, must_exist: bool, allow_self: bool = False) -> tuple[int, int]:
    pid = call.target(call.f("partition_id"), allow_self=allow_self)
    vp = call.f("vp_index")
    if vp >= MAX_VPS or (must_exist and partitions.vp_state(call.store, pid, vp) is None):
        raise Reject(HvStatus.INVALID_VP_INDEX, f"vp {vp}")
    call.notes.update(partition=call.m.name(pid), vp=vp)
    return pid, vp


@hypercall_spec(HvCallCode.CREATE_VP, layout=L.CREATE_VP, privilege=CP)
def create_vp(call: Call) -> None:
    """A VP, created suspended (explicit suspend set); its state takes a page of the pool."""
    pid, vp = _vp(call, must_exist=False)
    call.require_state(pid, PartitionState.INITIALIZED)
    if partitions.vp_state(call.store, pid, vp) is not None:
        raise Reject(HvStatus.INVALID_VP_STATE, f"vp {vp} exists")
    _allocate(call, pid, VP_PAGES, "vp")
    call.store.set(("vp", pid, vp), VpState.CREATED.value)
    call.store.set(("vpreg", pid, vp, EXPLICIT_SUSPEND), 1)


@hypercall_spec(HvCallCode.DELETE_VP, layout=L.DELETE_VP, privilege=CP)
def delete_vp(call: Call) -> None:
    """The VP must not be running."""
    pid, vp = _vp(call, must_exist=True)
    if partitions.vp_state(call.store, pid, vp) == VpState.RUNNING:
        raise Reject(HvStatus.INVALID_VP_STATE, f"vp {vp} is running")
    call.store.set(("vp", pid, vp), None)


@hypercall_spec(HvCallCode.START_VIRTUAL_PROCESSOR, layout=L.START_VP)
def start_virtual_processor(call: Call) -> None:
    """A partition starts another of its own VPs (an AP) with an initial context. A parent does
    not start a child's VP with this call: it clears the VP's explicit suspend register."""
    pid, vp = _vp(call, must_exist=True, allow_self=True)
    if pid != call.pid:
        raise Reject(HvStatus.ACCESS_DENIED, "a VP is started by its own partition", HOA)
    if partitions.vp_state(call.store, pid, vp) != VpState.CREATED:
        raise Reject(HvStatus.INVALID_VP_STATE, f"vp {vp} already started")
    call.store.set(("vp", pid, vp), VpState.RUNNING.value)
    call.store.set(("vpreg", pid, vp, EXPLICIT_SUSPEND), None)


def _registers(call: Call) -> None:
    pid = call.target(call.f("partition_id"), allow_self=True)
    vp = call.f("vp_index")
    if partitions.vp_state(call.store, pid, vp) is None:
        raise Reject(HvStatus.INVALID_VP_INDEX, f"vp {vp}")
    call.notes.update(partition=call.m.name(pid), vp=vp, target=pid)


@hypercall_spec(
    HvCallCode.GET_VP_REGISTERS,
    rep=True,
    layout=L.VP_REGISTERS,
    elem=L.REGISTER_NAME,
    out_elem_layout=L.REGISTER_VALUE,
    prepare=_registers,
    unchecked_output_without_sdl=True,
)
def get_vp_registers(call: Call, i: int) -> bytes:
    """Rep in: a register name (u32); rep out: its 128-bit value. Its output-list bound check
    is the one sdl-input-validation guards: without it a crafted rep start writes past the
    output page."""
    name = call.e(i, "name")
    value = call.store.get(("vpreg", call.notes["target"], call.notes["vp"], name), 0)
    return value.to_bytes(16, "little")


@hypercall_spec(
    HvCallCode.SET_VP_REGISTERS,
    rep=True,
    layout=L.SET_VP_REGISTERS,
    elem=L.REGISTER_ASSOC,
    prepare=_registers,
)
def set_vp_registers(call: Call, i: int) -> None:
    """Rep in: a register association (name u32, 128-bit value at 16). Clearing a VP's
    explicit or intercept suspend register is how its parent starts or resumes it."""
    st = call.store
    target, vp = call.notes["target"], call.notes["vp"]
    name, value = call.e(i, "name"), call.e(i, "value")
    st.set(("vpreg", target, vp, name), value or None)
    if name in (EXPLICIT_SUSPEND, INTERCEPT_SUSPEND) and not value:
        suspended = any(
            st.get(("vpreg", target, vp, r)) for r in (EXPLICIT_SUSPEND, INTERCEPT_SUSPEND)
        )
        if not suspended and partitions.vp_state(st, target, vp) != VpState.RUNNING:
            st.set(("vp", target, vp), VpState.RUNNING.value)
            call.notes["resumed"] = True
