"""A partition's loads and stores as the hypervisor carries them out: through that partition's
second-level map, each access checked by the oracle; an unmapped page suspends the VP and
becomes an intercept message to the parent, whose memory manager answers it. Device DMA goes
through the same checks with the device as principal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvlab.model.core import canaries, sites
from hvlab.model.core.events import EventKind
from hvlab.model.core.protections import Protection
from hvlab.model.hypervisor import intercept_messages as intercepts
from hvlab.model.hypervisor import memory, partitions, synic
from hvlab.model.hypervisor.constants import (
    PAGE_SIZE,
    HvMessageType,
)
from hvlab.model.hypervisor.memory import HYPERVISOR
from hvlab.model.hypervisor.partitions import HV_PID, ROOT_PID

if TYPE_CHECKING:
    from hvlab.model.core.store import Store

IOMMU = Protection.IOMMU_DMA_PROTECTION.value


def node_of(principal: str) -> str:
    """The topology node a principal's own code runs in."""
    if principal == HYPERVISOR or "." in principal:
        return principal
    return f"{principal}.kernel"


class GuestMemory:
    """The guest memory access path of the Machine (a mixin: it uses the machine's store, design,
    layout, event log and its parent's memory manager, `vid`)."""

    store: Store

    def read(self, pid: int, gpa: int, size: int, actor: str | None = None) -> bytes | None:
        """A partition reads its own guest-physical memory through its second-level map."""
        return self._access(pid, gpa, size, None, actor)

    def write(self, pid: int, gpa: int, data: bytes, actor: str | None = None) -> bool:
        return self._access(pid, gpa, len(data), data, actor) is not None

    def _limit(self, pid: int) -> int:
        if pid == HV_PID:
            return self.layout.frames * PAGE_SIZE
        return self.store.get(("part", pid, "gpa_pages"), 0) * PAGE_SIZE

    def _translate(self, pid: int, gpn: int):
        """A partition's map entry; the hypervisor (HV_PID) sees physical memory as it is."""
        if pid == HV_PID:
            return (gpn, "rw-") if 0 <= gpn < self.layout.frames else None
        return self.store.get(("slat", pid, gpn))

    def _access(self, pid, gpa, size, data, actor):
        principal = self.principal(pid, actor)
        actor = actor or principal
        if size <= 0 or gpa < 0 or gpa + size > self._limit(pid):
            self.emit(
                EventKind.FAULT,
                actor,
                "gpa-out-of-range",
                path=(node_of(principal),),
                detail={"gpa": gpa, "size": size},
            )
            return None
        right = "r" if data is None else "w"
        first, last = gpa // PAGE_SIZE, (gpa + size - 1) // PAGE_SIZE
        for _attempt in range(2):
            entries = []
            for gpn in range(first, last + 1):
                entry = self._translate(pid, gpn)
                if entry is None or right not in entry[1]:
                    break
                entries.append(entry)
            else:
                refusal = sites.refused_by(
                    self, sites.MEMORY_ACCESS, partition=principal, gpa=gpa, size=size,
                    write=data is not None,
                )  # fmt: skip
                if refusal is not None:  # a plugin defense refused it: the access faults
                    self.emit(
                        EventKind.FAULT,
                        actor,
                        "access-refused",
                        protection=refusal[0],
                        path=(node_of(principal),),
                        detail={"gpa": gpa, "size": size, "why": refusal[1]},
                    )
                    return None
                return self._perform(principal, actor, gpa, size, data, entries)
            if not self._gpa_fault(pid, gpn, entry, data is not None, actor):
                return None
        return None  # pragma: no cover - the VID resolves at most once per access

    def _perform(self, principal, actor, gpa, size, data, entries):
        """Move the bytes through the map `entries` (one per page touched), record the event,
        and let the oracle look at what was read or written."""
        st = self.store
        if len(entries) == 1:  # the common case: all within one page
            pfns = (entries[0][0],)
            spa = pfns[0] * PAGE_SIZE + gpa % PAGE_SIZE
            if data is None:
                value = memory.read_phys(st, spa, size)
            else:
                memory.write_phys(st, spa, data)
                value = data
        else:
            pfns, out = tuple(e[0] for e in entries), []
            pos, end = gpa, gpa + size
            for pfn in pfns:
                off = pos % PAGE_SIZE
                chunk = min(PAGE_SIZE - off, end - pos)
                if data is None:
                    out.append(memory.read_phys(st, pfn * PAGE_SIZE + off, chunk))
                else:
                    memory.write_phys(
                        st, pfn * PAGE_SIZE + off, data[pos - gpa : pos - gpa + chunk]
                    )
                pos += chunk
            value = b"".join(out) if data is None else data
        self.emit(
            EventKind.MEMORY,
            actor,
            "read" if data is None else "write",
            path=(node_of(principal), "hw.ram"),
            detail={
                "partition": principal,
                "gpa": gpa,
                "size": size,
                "frames": pfns,
                "bytes": value[:16].hex(),
            },
        )
        if data is None:
            self.check_read(principal, value, actor, {"gpa": gpa, "frames": pfns})
            return value
        self.check_write(principal, pfns, actor, {"gpa": gpa})
        return b""

    def dma(
        self,
        address: int,
        on_behalf: str,
        actor: str,
        path: tuple[str, ...],
        *,
        size: int = 0,
        data: bytes | None = None,
        domain: int = ROOT_PID,
    ) -> bytes | None:
        """A device moves bytes for `on_behalf` (the principal the oracle checks) at a bus
        address, with no CPU and no second-level map of the CPU's on the way.

        With `iommu-dma-protection` on, the hypervisor's IOMMU translates the address through
        the map of the partition the device serves (`domain`: the root, whose map is the
        identity, or a child a device is assigned to) and refuses a page that map does not give
        the device; with it off the address is a system physical address, any frame at all."""
        length = len(data) if data is not None else size
        first_page = address // PAGE_SIZE
        pages = range(first_page, (address + max(length, 1) - 1) // PAGE_SIZE + 1)
        spa = address
        if self.on(IOMMU):
            need = "w" if data is not None else "r"
            frames = []
            for page in pages:
                entry = memory.translate(self.store, domain, page)
                if entry is None or need not in entry[1]:
                    self.emit(
                        EventKind.FAULT,
                        actor,
                        "iommu-fault",
                        protection=IOMMU,
                        path=(*path[:-1], HYPERVISOR) if path else (HYPERVISOR,),
                        detail={
                            "for": on_behalf,
                            "address": address,
                            "size": length,
                            "page": page,
                            "domain": self.name(domain),
                            "why": f"{self.name(domain)}'s map gives the device no "
                            f"{'write' if need == 'w' else 'read'} access to page {page:#x}",
                        },
                    )
                    return None
                frames.append(entry[0])
            if frames != list(pages):  # a child's GPAs: move the bytes frame by frame
                spa = frames[0] * PAGE_SIZE + address % PAGE_SIZE
        limit = self.layout.frames * PAGE_SIZE
        if spa < 0 or spa + length > limit:
            self.emit(
                EventKind.FAULT,
                actor,
                "dma-out-of-range",
                path=path,
                detail={"spa": spa, "size": length},
            )
            return None
        frames = tuple(range(spa // PAGE_SIZE, (spa + max(length, 1) - 1) // PAGE_SIZE + 1))
        if data is None:
            value = memory.read_phys(self.store, spa, size)
        else:
            memory.write_phys(self.store, spa, data)
            value = data
        self.emit(
            EventKind.MEMORY,
            actor,
            "dma-read" if data is None else "dma-write",
            path=path,
            detail={
                "for": on_behalf,
                "spa": spa,
                "size": length,
                "frames": frames,
                "bytes": value[:16].hex(),
            },
        )
        if data is None:
            self.check_read(on_behalf, value, actor, {"spa": spa, "frames": frames})
        else:
            self.check_write(on_behalf, frames, actor, {"spa": spa})
        return value

    def _breach(self, actor: str, name: str, principal: str, how: str, path=(), **detail):
        """One breach event: canary `detail["canary"]` reached `principal` by `how`."""
        self.emit(
            EventKind.BREACH,
            actor,
            name,
            path=path or (node_of(principal),),
            detail={"canary": detail.pop("canary"), "principal": principal, "how": how, **detail},
        )

    def check_read(
        self, principal: str, value: bytes, actor: str, where: dict, path: tuple = ()
    ) -> None:
        """Breach events for every secret in what `principal` just read (`path`: how the bytes
        reached it, when more than its own node)."""
        for name in canaries.secrets_seen(self.store, principal, value):
            self._breach(actor, "secret-read", principal, "read", path, canary=name, **where)

    def check_write(self, principal: str, pfns: tuple[int, ...], actor: str, where: dict) -> None:
        for name, pfn in canaries.markers_violated(self.store, principal, pfns):
            self._breach(
                actor, "marker-written", principal, "write", canary=name, frame=pfn, **where
            )

    def check_combined(self, principal: str, actor: str, gpn: int, took: int) -> None:
        """A write of `principal`'s just waited for a copy-on-write: its page had been combined
        with the pages `vid.cow_shared` names. A write to a page of its own that takes that long
        tells the guest that some page elsewhere holds the same bytes — a breach for each page
        canary among them (the model counts the side channel; it does not time the guest)."""
        shared = self.vid.cow_shared
        for name in canaries.pages_learned(self.store, principal, shared):
            where = {"gpa": gpn * PAGE_SIZE, "took": f"{took} ticks",
                     "with": ", ".join(f"{p} {g * PAGE_SIZE:#x}" for p, g in shared)}  # fmt: skip
            self._breach(actor, "page-learned", principal, "copy-on-write timing", canary=name,
                         **where)  # fmt: skip

    def _gpa_fault(self, pid, gpn, entry, write, actor) -> bool:
        """An access missed the second-level map or lacked the right. True if it was resolved."""
        st = self.store
        principal = self.name(pid)
        msg = HvMessageType.UNMAPPED_GPA if entry is None else HvMessageType.GPA_INTERCEPT
        detail = {"gpa": gpn * PAGE_SIZE, "access": "write" if write else "read"}
        if pid == ROOT_PID:
            # The root has no parent: the access simply faults. With separate address spaces
            # on, hypervisor and pool frames are absent from its identity map by design.
            owner = memory.frame_owner(st, gpn) or ""
            decided = (
                Protection.SEPARATE_ADDRESS_SPACES.value
                if owner == HYPERVISOR or owner.startswith("pool:")
                else None
            )
            self.emit(
                EventKind.FAULT,
                actor,
                "access-violation",
                status=msg,
                protection=decided,
                path=(node_of(principal), HYPERVISOR),
                detail={**detail, "frame_owner": owner},
            )
            return False
        parent = partitions.field(st, pid, "parent")
        intercepts.suspend(st, pid)
        rip = st.get(("vpreg", pid, 0, intercepts.REGISTER_RIP), 0)
        body = intercepts.memory_message(gpn * PAGE_SIZE, write, rip)
        self.emit(
            EventKind.INTERCEPT,
            HYPERVISOR,
            msg.label,
            status=msg,
            path=(node_of(principal), HYPERVISOR, "root.vid"),
            detail={**detail, "layout": intercepts.MEMORY_INTERCEPT.name, "bytes": body.hex()},
        )
        began = self.time  # the VP waits from the intercept to its resume
        synic.post(self, parent, 0, 0, msg, body, actor=HYPERVISOR)
        resolved, protection = self.vid.handle_gpa_intercept(pid, gpn, entry, write)
        if resolved:
            self.emit(
                EventKind.INTERCEPT,
                "root.vid",
                "resume",
                path=("root.vid", HYPERVISOR, node_of(principal)),
                detail={"gpa": gpn * PAGE_SIZE, "retry": True},
            )
            if self.vid.cow_shared:
                self.check_combined(principal, actor, gpn, self.time - began)
            return True
        self.emit(
            EventKind.FAULT,
            actor,
            "access-failed",
            status=msg,
            protection=protection,
            path=("root.vid", HYPERVISOR, node_of(principal)),
            detail=detail,
        )
        return False
