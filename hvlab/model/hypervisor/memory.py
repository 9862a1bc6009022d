"""System frames, their owners, second-level (GPA→SPA) maps and physical memory contents.

Store keys:
  ("frame", pfn) -> (owner, kind)         every frame has exactly one owner
  ("slat", pid, gpn) -> (pfn, rights)     a partition's second-level map entry, rights like "rw-"
  ("rmap", pfn) -> ((pid, gpn), ...)      every map entry that points at the frame, sorted
  ("mem", address) -> int                 one little-endian qword; absent means zero
  ("dirty", pfn) -> True                  the frame may hold non-zero bytes
"""

from __future__ import annotations

from hvlab.model.core.store import Store
from hvlab.model.hypervisor.constants import PAGE_SIZE

HYPERVISOR = "hypervisor"
ROOT = "root"


def pool_owner(name: str) -> str:
    return f"pool:{name}"


def frame_owner(store: Store, pfn: int) -> str | None:
    entry = store.get(("frame", pfn))
    return entry[0] if entry else None


def frame_kind(store: Store, pfn: int) -> str | None:
    entry = store.get(("frame", pfn))
    return entry[1] if entry else None


def set_owner(store: Store, pfn: int, owner: str, kind: str | None = None) -> None:
    old = store.get(("frame", pfn))
    store.set(("frame", pfn), (owner, kind if kind is not None else old[1]))


def translate(store: Store, pid: int, gpn: int) -> tuple[int, str] | None:
    return store.get(("slat", pid, gpn))


def second_level_map(store: Store, pid: int) -> dict[int, tuple[int, str]]:
    """A partition's whole map, GPA page → (frame, rights): a scan of the store, for a reader
    that needs all of it (a learner's check), never on a hot path."""
    return dict(sorted((k[2], v) for k, v in store.data.items() if k[0] == "slat" and k[1] == pid))


def map_page(store: Store, pid: int, gpn: int, pfn: int, rights: str) -> None:
    old = store.get(("slat", pid, gpn))
    if old is not None and old[0] != pfn:
        unmap_page(store, pid, gpn)
    store.set(("slat", pid, gpn), (pfn, rights))
    refs = store.get(("rmap", pfn), ())
    if (pid, gpn) not in refs:
        store.set(("rmap", pfn), tuple(sorted((*refs, (pid, gpn)))))


def unmap_page(store: Store, pid: int, gpn: int) -> int | None:
    entry = store.get(("slat", pid, gpn))
    if entry is None:
        return None
    pfn = entry[0]
    store.set(("slat", pid, gpn), None)
    refs = tuple(r for r in store.get(("rmap", pfn), ()) if r != (pid, gpn))
    store.set(("rmap", pfn), refs or None)
    return pfn


def set_rights(store: Store, pid: int, gpn: int, rights: str) -> None:
    entry = store.get(("slat", pid, gpn))
    if entry is not None:
        store.set(("slat", pid, gpn), (entry[0], rights))


def mappers(store: Store, pfn: int) -> tuple[tuple[int, int], ...]:
    """Every (partition id, gpn) whose map points at `pfn`."""
    return store.get(("rmap", pfn), ())


def guests_mapping(store: Store, pfn: int) -> set[int]:
    """The partitions other than the root whose maps point at `pfn`."""
    from hvlab.model.hypervisor.partitions import ROOT_PID

    return {pid for pid, _ in mappers(store, pfn) if pid != ROOT_PID}


def read_phys(store: Store, spa: int, size: int) -> bytes:
    """Read `size` bytes at system physical address `spa` (no checks: the hardware view)."""
    if size <= 0:
        return b""
    start = spa & ~7
    end = (spa + size + 7) & ~7
    data = store.data
    raw = b"".join(data.get(("mem", a), 0).to_bytes(8, "little") for a in range(start, end, 8))
    skip = spa - start
    return raw[skip : skip + size]


def write_phys(store: Store, spa: int, payload: bytes) -> None:
    """Write bytes at `spa` qword by qword, recording each changed qword."""
    if not payload:
        return
    start = spa & ~7
    end = (spa + len(payload) + 7) & ~7
    current = bytearray(read_phys(store, start, end - start))
    offset = spa - start
    current[offset : offset + len(payload)] = payload
    for i, a in enumerate(range(start, end, 8)):
        value = int.from_bytes(current[i * 8 : i * 8 + 8], "little")
        store.set(("mem", a), value or None)
    if any(payload):
        for pfn in range(start // PAGE_SIZE, (end - 1) // PAGE_SIZE + 1):
            store.set(("dirty", pfn), True)


def zero_frame(store: Store, pfn: int) -> None:
    if not store.get(("dirty", pfn)):
        return
    data = store.data
    for a in range(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE, 8):
        if ("mem", a) in data:
            store.set(("mem", a), None)
    store.set(("dirty", pfn), None)


def frame_is_zero(store: Store, pfn: int) -> bool:
    return not store.get(("dirty", pfn))
