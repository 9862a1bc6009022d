"""Partitions: identity, parent, life-cycle state, privileges, memory pools and virtual processors.

Store keys:
  ("parts",) -> (pid, ...)                 partition ids in creation order
  ("pid", name) -> pid                     the index from names to ids
  ("next_pid",) -> int
  ("part", pid, field) -> value            fields: name, parent, state, privileges, gpa_pages,
                                           guest_os_id, hypercall_page
  ("pool", pid) -> (pfn, ...)              frames deposited for the partition, in deposit order
  ("pool-used", pid) -> (pfn, ...)         of those, the ones the hypervisor's own structures
                                           for the partition hold (partition, VP, SLAT pages)
  ("vp", pid, index) -> state              "created", "running", "suspended"
"""

from __future__ import annotations

from enum import StrEnum

from hvlab.model.core.store import Store

ROOT_PID = 1
HV_PID = 0  # not a partition: the hypervisor's own physical view of memory
MAX_VPS = 64
DEFAULT_GPA_PAGES = 64  # size of a child's guest-physical address space, in pages


class PartitionState(StrEnum):
    ACTIVE = "active"  # the root, from power-on
    CREATED = "created"
    INITIALIZED = "initialized"
    FINALIZED = "finalized"


class VpState(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    SUSPENDED = "suspended"


def partition_ids(store: Store) -> tuple[int, ...]:
    return store.get(("parts",), ())


def exists(store: Store, pid: int) -> bool:
    return pid in partition_ids(store)


def field(store: Store, pid: int, name: str, default=None):
    return store.get(("part", pid, name), default)


def set_field(store: Store, pid: int, name: str, value) -> None:
    store.set(("part", pid, name), value)


def name_of(store: Store, pid: int) -> str:
    return field(store, pid, "name", f"partition-{pid}")


def pid_of(store: Store, name: str) -> int | None:
    return store.get(("pid", name))


def children(store: Store) -> tuple[int, ...]:
    return tuple(p for p in partition_ids(store) if p != ROOT_PID)


def create(
    store: Store,
    name: str,
    parent: int | None,
    state: PartitionState,
    privileges: int,
    gpa_pages: int,
) -> int:
    pid = store.get(("next_pid",), ROOT_PID)
    store.set(("next_pid",), pid + 1)
    store.set(("parts",), (*partition_ids(store), pid))
    set_field(store, pid, "name", name)
    store.set(("pid", name), pid)
    set_field(store, pid, "parent", parent)
    set_field(store, pid, "state", state.value)
    set_field(store, pid, "privileges", privileges)
    set_field(store, pid, "gpa_pages", gpa_pages)
    return pid


def remove(store: Store, pid: int) -> None:
    store.set(("pid", name_of(store, pid)), None)
    store.set(("parts",), tuple(p for p in partition_ids(store) if p != pid))
    for key in sorted((k for k in store.data if k[0] in ("part", "vp") and k[1] == pid), key=repr):
        store.set(key, None)
    store.set(("pool", pid), None)
    store.set(("pool-used", pid), None)


def state(store: Store, pid: int) -> str:
    return field(store, pid, "state")


def has_privilege(store: Store, pid: int, bit: int) -> bool:
    return bool(field(store, pid, "privileges", 0) >> bit & 1)


def pool(store: Store, pid: int) -> tuple[int, ...]:
    return store.get(("pool", pid), ())


def pool_used(store: Store, pid: int) -> tuple[int, ...]:
    return store.get(("pool-used", pid), ())


def pool_free(store: Store, pid: int) -> tuple[int, ...]:
    """Deposited frames no hypervisor structure holds yet: what it can allocate, or give back."""
    used = set(pool_used(store, pid))
    return tuple(p for p in pool(store, pid) if p not in used)


def take_pool_pages(store: Store, pid: int, count: int) -> tuple[int, ...] | None:
    """Allocate `count` of the partition's free pool frames for the hypervisor's own use, or
    None when the pool holds fewer (the caller answers HV_STATUS_INSUFFICIENT_MEMORY)."""
    free = pool_free(store, pid)
    if len(free) < count:
        return None
    taken = free[:count]
    store.set(("pool-used", pid), (*pool_used(store, pid), *taken))
    return taken


def rename(store: Store, pid: int, name: str) -> None:
    """The root's name for a partition it created (the hypervisor knows partitions by id)."""
    store.set(("pid", name_of(store, pid)), None)
    set_field(store, pid, "name", name)
    store.set(("pid", name), pid)


def vp_state(store: Store, pid: int, index: int) -> str | None:
    return store.get(("vp", pid, index))


def vps(store: Store, pid: int) -> tuple[int, ...]:
    return tuple(i for i in range(MAX_VPS) if ("vp", pid, i) in store.data)
